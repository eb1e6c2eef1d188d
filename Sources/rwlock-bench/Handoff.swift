import RWLock

/// Handoff latency: from the moment the holder calls release to the moment
/// the waiting writer holds the lock. With the library's waiter (woken by
/// the lock's pub/sub channel) and with a plain 10 ms polling loop of
/// `withWriteLockIfAvailable`. Holder and waiter use different clients, as
/// two processes would: a waiter of the holder's own client is woken by
/// the client itself, not by the channel.
enum Handoff {
    static func run(_ client: RWLockClient, waitingOn other: RWLockClient, prefix: String, report: Report, iterations: Int) async throws {
        let pubsub = try await measure(client, other, name: "\(prefix):handoff-pubsub", iterations: iterations) { lock in
            let lease = try await lock.acquireWrite(timeout: .seconds(10))
            let granted = ContinuousClock.now
            try await lease.release()
            return granted
        }
        report.add(Measurement(metric: "handoff_pubsub", samples: pubsub,
                               note: "n=\(pubsub.count), release -> waiter's grant, pub/sub wake"))
        let polling = try await measure(client, other, name: "\(prefix):handoff-polling", iterations: iterations) { lock in
            while true {
                if let granted = try await lock.withWriteLockIfAvailable({ _ in ContinuousClock.now }) {
                    return granted
                }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        report.add(Measurement(metric: "handoff_polling", samples: polling,
                               note: "n=\(polling.count), withWriteLockIfAvailable + sleep(10 ms) loop"))
    }

    static func measure(
        _ client: RWLockClient, _ other: RWLockClient, name: String, iterations: Int,
        waiter: @escaping @Sendable (RWLock) async throws -> ContinuousClock.Instant
    ) async throws -> [Duration] {
        let lock = try RWLock(name: name, client: client)
        let waiting = try RWLock(name: name, client: other)
        var samples: [Duration] = []
        for iteration in 0..<(iterations + 5) {
            let held = try await lock.acquireWrite(timeout: .seconds(10))
            let pending = Task { try await waiter(waiting) }
            // Let the waiter register its intent / start polling; vary the
            // phase so polling is not always sampled at the same offset.
            try await Task.sleep(for: .milliseconds(15 + iteration % 7))
            let released = ContinuousClock.now
            try await held.release()
            let granted = try await pending.value
            if iteration >= 5 { samples.append(granted - released) }  // first 5: warm-up
        }
        return samples
    }
}
