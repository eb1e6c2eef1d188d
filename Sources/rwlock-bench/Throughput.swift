import Foundation
import RWLock

/// Grants per second with N concurrent tasks on one client, against bare
/// EVALSHA throughput with the same tasks and pool.
///
/// The rows run in interleaved rounds: each round gives every row one short
/// window, in the same order, and a row's rate is the median of its rounds.
/// These shared cores slow down and speed up by 20% or more within minutes,
/// so rows measured one after another, a second each, drifted apart even
/// when nothing in the code changed; the targets are ratios between rows
/// (16-task reads against 16-task EVALSHA, 90/10 against reads), and
/// interleaving puts the same moments of the machine under both sides.
enum Throughput {
    static let taskCounts = [1, 4, 16, 64]
    /// (metric stem, writes out of every 10 cycles)
    static let mixes = [("read_throughput", 0), ("rw90_10_throughput", 1), ("rw50_50_throughput", 5)]

    /// One row: its metric, what its note says before the busy figures, and
    /// how many operations it completes on `tasks` tasks within a window.
    private struct Row {
        let metric: String
        let label: String
        let tasks: Int
        let operation: @Sendable (_ task: Int, _ iteration: Int) async throws -> Void
    }

    /// Measures every row in `rounds` rounds of `window / rounds` each.
    static func run(_ client: RWLockClient, prefix: String, report: Report, window: Duration, rounds: Int) async throws {
        let sha = try await Floor.load(client)
        var rows: [Row] = []
        for tasks in taskCounts {
            rows.append(Row(metric: "evalsha_throughput_\(tasks)", label: "\(tasks) tasks, pool \(client.maxConnections)",
                            tasks: tasks) { _, _ in _ = try await client.benchmarkCommand(["EVALSHA", sha, "0"]) })
        }
        for (stem, writesPerTen) in mixes {
            let lock = try RWLock(name: "\(prefix):\(stem)", client: client)
            for tasks in taskCounts {
                rows.append(Row(metric: "\(stem)_\(tasks)", label: "grants/s, \(tasks) tasks, \(writesPerTen * 10)% writes",
                                tasks: tasks) { task, i in
                    let lease = (i + task) % 10 < writesPerTen
                        ? try await lock.acquireWrite(timeout: .seconds(10))
                        : try await lock.acquireRead(timeout: .seconds(10))
                    try await lease.release()
                })
            }
        }
        let slice = window / rounds
        var rates = [[Double]](repeating: [], count: rows.count)
        var busy = [Busy](repeating: Busy(), count: rows.count)
        for _ in 0..<rounds {
            for (index, row) in rows.enumerated() {
                let reading = try await measuringBusy(client) {
                    try await hammer(tasks: row.tasks, window: slice, row.operation)
                }
                // Operations that completed within the window, over the window.
                rates[index].append(Double(reading.operations) / slice.seconds)
                busy[index].add(reading)
            }
        }
        for (index, row) in rows.enumerated() {
            let rate = Measurement.percentile(rates[index].sorted(), 0.5)
            report.add(Measurement(metric: row.metric, p50: nil, p99: nil, opsPerSecond: rate,
                                   note: "\(row.label), \(busy[index]), median of \(rounds) rounds"))
        }
    }

    /// What the server and this process spent over one or more windows:
    /// operations done, `EVALSHA`s the server ran (INFO commandstats:
    /// refused acquires show here), CPU seconds of each side (the server's
    /// from INFO's `used_cpu_user` + `used_cpu_sys`, nil when INFO lacks
    /// them; the client's from `getrusage`), and the wall time.
    struct Busy: CustomStringConvertible {
        var operations = 0
        var scripts = 0
        var serverSeconds: Double? = 0
        var clientSeconds = 0.0
        var wall = 0.0

        mutating func add(_ other: Busy) {
            operations += other.operations
            scripts += other.scripts
            serverSeconds = serverSeconds.flatMap { mine in other.serverSeconds.map { mine + $0 } }
            clientSeconds += other.clientSeconds
            wall += other.wall
        }

        /// The scripts per operation and how busy each side was, in % of
        /// one core over the wall time. Redis runs commands on one thread,
        /// so a server near 100% caps the rate; on a 2-core machine, a sum
        /// near 200% means the two sides are taking the CPU from each other.
        var description: String {
            func percent(_ seconds: Double) -> Int { Int((seconds / max(wall, 1e-9) * 100).rounded()) }
            let perOperation = String(format: "%.2f EVALSHA each", Double(scripts) / Double(max(operations, 1)))
            let server = serverSeconds.map { "server busy \(percent($0))%" } ?? "server busy unknown"
            return "\(perOperation), \(server), client busy \(percent(clientSeconds))%"
        }
    }

    /// Runs `body` (which returns how many operations it completed) and
    /// reads what both sides spent meanwhile (see ``Busy``).
    static func measuringBusy(_ client: RWLockClient, _ body: () async throws -> Int) async throws -> Busy {
        let clock = ContinuousClock()
        let scriptsBefore = try await ServerCPU.commandStat("calls", of: ["evalsha"], on: client)
        let before = try await serverCPUSeconds(client)
        let clientBefore = clientCPUSeconds()
        let start = clock.now
        let count = try await body()
        let wall = (clock.now - start).seconds
        let clientAfter = clientCPUSeconds()
        let after = try await serverCPUSeconds(client)
        let scriptsAfter = try await ServerCPU.commandStat("calls", of: ["evalsha"], on: client)
        return Busy(operations: count, scripts: scriptsAfter - scriptsBefore,
                    serverSeconds: before.flatMap { before in after.map { $0 - before } },
                    clientSeconds: clientAfter - clientBefore, wall: wall)
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

    private static func serverCPUSeconds(_ client: RWLockClient) async throws -> Double? {
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
