import RWLock

/// Uncontended acquire+release cycles with the explicit API: each is two
/// EVALSHAs (acquire_*.lua, release.lua) plus the client's own work.
enum Cycles {
    static func run(_ client: RedisClient, prefix: String, report: Report, iterations: Int) async throws {
        let lock = try RWLock(name: "\(prefix):cycle", client: client)
        for mode in [Lease.Mode.write, .read] {
            for _ in 0..<300 { try await cycle(lock, mode) }  // warm-up
            var samples: [Duration] = []
            samples.reserveCapacity(iterations)
            let clock = ContinuousClock()
            let elapsed = try await timed {
                for _ in 0..<iterations {
                    let start = clock.now
                    try await cycle(lock, mode)
                    samples.append(clock.now - start)
                }
            }
            report.add(Measurement(metric: mode == .write ? "write_cycle" : "read_cycle",
                                   samples: samples, elapsed: elapsed))
        }
        // The scoped form adds the renewal task it starts for the body.
        var samples: [Duration] = []
        let clock = ContinuousClock()
        let elapsed = try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                try await lock.withWriteLock { _ in }
                samples.append(clock.now - start)
            }
        }
        report.add(Measurement(metric: "write_cycle_scoped", samples: samples, elapsed: elapsed,
                               note: "withWriteLock { } (renewal task included)"))
    }

    static func cycle(_ lock: RWLock, _ mode: Lease.Mode) async throws {
        let lease = mode == .write
            ? try await lock.acquireWrite(timeout: .seconds(5))
            : try await lock.acquireRead(timeout: .seconds(5))
        try await lease.release()
    }
}
