import RWLock

/// How long a writer waits for the lock while reader tasks keep acquiring
/// and releasing read leases back to back (writer preference: the writer's
/// intent stops new readers, so it waits only for the readers inside). The
/// writer uses another client than the readers, as another process would:
/// readers of the writer's own client would stop asking once it waits.
enum WriterWait {
    static func run(_ client: RWLockClient, writingOn other: RWLockClient, prefix: String, report: Report,
                    samples count: Int, readers: Int) async throws {
        let lock = try RWLock(name: "\(prefix):writer-wait", client: client)
        let writer = try RWLock(name: "\(prefix):writer-wait", client: other)
        let flood = Task {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<readers {
                    group.addTask {
                        var grants = 0
                        while !Task.isCancelled {
                            do {
                                let lease = try await lock.acquireRead(timeout: .seconds(10))
                                grants += 1
                                try await lease.release()
                            } catch where Task.isCancelled {
                                break
                            }
                        }
                        return grants
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        try await Task.sleep(for: .milliseconds(200))  // let the flood build up
        var samples: [Duration] = []
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<count {
            let start = clock.now
            let lease = try await writer.acquireWrite(timeout: .seconds(10))
            samples.append(clock.now - start)
            try await lease.release()
            try await Task.sleep(for: .milliseconds(10))
        }
        let floodTime = clock.now - started
        flood.cancel()
        let readGrants = (try? await flood.value) ?? 0
        report.add(Measurement(metric: "writer_wait_reader_flood", samples: samples,
                               note: "n=\(count), \(readers) reader tasks, \(Int(Double(readGrants) / (floodTime.seconds + 0.2))) read grants/s meanwhile"))
    }
}
