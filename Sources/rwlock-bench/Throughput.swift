import Foundation
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
            let (count, busy) = try await measuringBusy(client) {
                try await hammer(tasks: tasks, window: window) { _, _ in
                    _ = try await client.benchmarkCommand(["EVALSHA", sha, "0"])
                }
            }
            report.add(Measurement(metric: "evalsha_throughput_\(tasks)", count: count, elapsed: window,
                                   note: "\(tasks) tasks, pool \(client.maxConnections), \(busy)"))
        }
        for (stem, writesPerTen) in mixes {
            let lock = try RWLock(name: "\(prefix):\(stem)", client: client)
            for tasks in taskCounts {
                let (count, busy) = try await measuringBusy(client) {
                    try await hammer(tasks: tasks, window: window) { task, i in
                        let lease = (i + task) % 10 < writesPerTen
                            ? try await lock.acquireWrite(timeout: .seconds(10))
                            : try await lock.acquireRead(timeout: .seconds(10))
                        try await lease.release()
                    }
                }
                report.add(Measurement(metric: "\(stem)_\(tasks)", count: count, elapsed: window,
                                       note: "grants/s, \(tasks) tasks, \(writesPerTen * 10)% writes, \(busy)"))
            }
        }
    }

    /// Runs `body` (which returns how many operations it completed) and
    /// says how many `EVALSHA`s the server ran per operation (INFO
    /// commandstats: refused acquires show here) and how busy it kept each
    /// side, as CPU time over the wall time between the readings, in % of
    /// one core: the server from INFO's `used_cpu_user` + `used_cpu_sys`,
    /// this process (the client) from `getrusage`. Redis runs commands on one thread, so a server near
    /// 100% caps the rate; on a 2-core machine, a sum near 200% means the
    /// two sides are taking the CPU from each other.
    static func measuringBusy(
        _ client: RedisClient, _ body: () async throws -> Int
    ) async throws -> (Int, String) {
        let clock = ContinuousClock()
        let scriptsBefore = try await ServerCPU.commandStat("calls", of: ["evalsha"], on: client)
        let before = try await serverCPUSeconds(client)
        let clientBefore = clientCPUSeconds()
        let start = clock.now
        let count = try await body()
        let clientAfter = clientCPUSeconds()
        let after = try await serverCPUSeconds(client)
        let scriptsAfter = try await ServerCPU.commandStat("calls", of: ["evalsha"], on: client)
        let wall = max((clock.now - start).seconds, 1e-9)
        func percent(_ seconds: Double) -> Int { Int((seconds / wall * 100).rounded()) }
        let scripts = String(format: "%.2f EVALSHA each", Double(scriptsAfter - scriptsBefore) / Double(max(count, 1)))
        let clientBusy = "client busy \(percent(clientAfter - clientBefore))%"
        guard let before, let after else { return (count, "\(scripts), server busy unknown, \(clientBusy)") }
        return (count, "\(scripts), server busy \(percent(after - before))%, \(clientBusy)")
    }

    private static func clientCPUSeconds() -> Double {
        var usage = rusage()
        #if os(Linux)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)  // Glibc imports RUSAGE_SELF as an enum
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1_000_000 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private static func serverCPUSeconds(_ client: RedisClient) async throws -> Double? {
        guard let info = try await client.benchmarkCommand(["INFO", "cpu"]) else { return nil }
        var total = 0.0, found = 0
        for line in info.split(whereSeparator: \.isNewline) {
            for field in ["used_cpu_user:", "used_cpu_sys:"] where line.hasPrefix(field) {
                guard let seconds = Double(line.dropFirst(field.count).trimmingCharacters(in: .whitespaces)) else { return nil }
                total += seconds
                found += 1
            }
        }
        return found == 2 ? total : nil
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
