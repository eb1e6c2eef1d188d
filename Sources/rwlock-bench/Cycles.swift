import RWLock

/// Uncontended acquire+release cycles with the explicit API: each is two
/// EVALSHAs (acquire_*.lua, release.lua) plus the client's own work.
enum Cycles {
    /// The floor and the cycles alternate in this many rounds, so a machine
    /// that slows down or speeds up part-way (these shared cores do, by 20%
    /// within minutes) moves both sides of their ratio alike.
    static let rounds = 10

    /// Measures the floor (``Floor``) and the write and read cycles in
    /// alternating rounds of `iterations / rounds`, then the scoped form.
    /// `betweenRounds` runs once per round too, after the cycles: the peers'
    /// rounds (``Peers``).
    static func run(
        _ client: RWLockClient, prefix: String, report: Report, iterations: Int,
        betweenRounds: @MainActor () async -> Void = {}
    ) async throws {
        let lock = try RWLock(name: "\(prefix):cycle", client: client)
        let sha = try await Floor.load(client)
        for _ in 0..<500 { _ = try await client.benchmarkCommand(["EVALSHA", sha, "0"]) }  // warm-up
        for _ in 0..<300 {
            try await cycle(lock, .write)
            try await cycle(lock, .read)
        }
        let perRound = max(1, iterations / rounds)
        var floor = Floor.Samples()
        var samples: [Lease.Mode: [Duration]] = [.write: [], .read: []]
        var elapsed: [Lease.Mode: Duration] = [.write: .zero, .read: .zero]
        let clock = ContinuousClock()
        // Each round starts one step further along, so no side is always
        // the one that runs first after the others (or after the peers).
        for round in 0..<rounds {
            for step in 0..<4 {
                switch (round + step) % 4 {
                case 0: try await Floor.sample(client, sha: sha, iterations: perRound, into: &floor)
                case 3: await betweenRounds()
                case let index:
                    let mode = index == 1 ? Lease.Mode.write : .read
                    elapsed[mode]! += try await timed {
                        for _ in 0..<perRound {
                            let start = clock.now
                            try await cycle(lock, mode)
                            samples[mode]!.append(clock.now - start)
                        }
                    }
                }
            }
        }
        Floor.report(floor, to: report)
        report.section("uncontended cycles (acquire + release, same connection, in the floor's rounds)")
        for mode in [Lease.Mode.write, .read] {
            report.add(Measurement(metric: mode == .write ? "write_cycle" : "read_cycle",
                                   samples: samples[mode]!, elapsed: elapsed[mode]!))
        }
        // The scoped form adds the renewal task it starts for the body.
        var scoped: [Duration] = []
        let scopedElapsed = try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                try await lock.withWriteLock { _ in }
                scoped.append(clock.now - start)
            }
        }
        report.add(Measurement(metric: "write_cycle_scoped", samples: scoped, elapsed: scopedElapsed,
                               note: "withWriteLock { } (renewal task included)"))
    }

    static func cycle(_ lock: RWLock, _ mode: Lease.Mode) async throws {
        let lease = mode == .write
            ? try await lock.acquireWrite(timeout: .seconds(5))
            : try await lock.acquireRead(timeout: .seconds(5))
        try await lease.release()
    }
}
