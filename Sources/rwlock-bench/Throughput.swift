import RWLock

/// Grants per second with N concurrent tasks on one client, against bare
/// EVALSHA throughput with the same tasks and pool.
enum Throughput {
    static let taskCounts = [1, 4, 16, 64]
    /// (metric stem, writes out of every 10 cycles)
    static let mixes = [("read_throughput", 0), ("rw90_10_throughput", 1), ("rw50_50_throughput", 5)]

    static func run(_ client: RedisClient, prefix: String, report: Report, window: Duration) async throws {
        let sha = try await Floor.load(client)
        for tasks in taskCounts {
            let count = try await hammer(tasks: tasks, window: window) { _, _ in
                _ = try await client.benchmarkCommand(["EVALSHA", sha, "0"])
            }
            report.add(Measurement(metric: "evalsha_throughput_\(tasks)", count: count, elapsed: window,
                                   note: "\(tasks) tasks, pool \(client.maxConnections)"))
        }
        for (stem, writesPerTen) in mixes {
            let lock = try RWLock(name: "\(prefix):\(stem)", client: client)
            for tasks in taskCounts {
                let count = try await hammer(tasks: tasks, window: window) { task, i in
                    let lease = (i + task) % 10 < writesPerTen
                        ? try await lock.acquireWrite(timeout: .seconds(10))
                        : try await lock.acquireRead(timeout: .seconds(10))
                    try await lease.release()
                }
                report.add(Measurement(metric: "\(stem)_\(tasks)", count: count, elapsed: window,
                                       note: "grants/s, \(tasks) tasks, \(writesPerTen * 10)% writes"))
            }
        }
    }

    /// Runs `operation` in a loop on `tasks` tasks until `window` has passed
    /// and returns how many completed within it.
    static func hammer(
        tasks: Int, window: Duration,
        _ operation: @escaping @Sendable (_ task: Int, _ iteration: Int) async throws -> Void
    ) async throws -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + window
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var done = 0
                    while clock.now < deadline {
                        try await operation(task, done)
                        if clock.now <= deadline { done += 1 }
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
    }
}
