import Foundation
import RWLock

/// Server CPU per cycle, from `INFO commandstats` deltas on the server the
/// bench is pointed at: what one lock cycle costs Redis itself, which caps
/// how many cycles one Redis core can grant, beside a minimal mutex cycle
/// (`SET NX PX` plus a compare-and-delete script) measured the same way, and
/// beside a fenced mutex: the same mutex made to grant a fencing token (S6)
/// and to publish its release, the two costs no lock of this package can
/// skip, so the gap between it and the lock is what readers, the queue and
/// the type checks cost.
///
/// A script's `usec` already includes the commands it calls (they are also
/// counted under their own names), so only top-level commands are summed.
/// Cycles run one at a time on one connection, and nothing else runs on the
/// bench's server meanwhile.
enum ServerCPU {
    /// The SHA-1 of one of the package's `lua/bench/` scripts, loaded on the
    /// bench's server: lua/ holds every script, so none is written in Swift.
    static func loadBenchScript(_ name: String, on client: RWLockClient) async throws -> String {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../lua/bench/\(name).lua").standardizedFileURL
        let source = try String(contentsOf: file, encoding: .utf8)
        guard let sha = try await client.benchmarkCommand(["SCRIPT", "LOAD", source]) else {
            throw BenchError("SCRIPT LOAD of lua/bench/\(name).lua returned nil")
        }
        return sha
    }

    static func run(_ client: RWLockClient, prefix: String, report: Report, cycles: Int) async throws {
        let lock = try RWLock(name: "\(prefix):cpu", client: client)
        let compareAndDelete = try await loadBenchScript("mutex_release", on: client)
        let fencedAcquire = try await loadBenchScript("fenced_mutex_acquire", on: client)
        let fencedRelease = try await loadBenchScript("fenced_mutex_release", on: client)
        let key = "\(prefix):mutex"
        let token = "mutex-token"
        func mutexCycle() async throws {
            guard try await client.benchmarkCommand(["SET", key, token, "NX", "PX", "30000"]) == "OK",
                try await client.benchmarkCommand(["EVALSHA", compareAndDelete, "1", key, token]) == "1"
            else { throw BenchError("the mutex cycle did not take and release its key") }
        }
        // Keys of one hash tag, as a lock's are, so the cycle runs on a cluster node too.
        let holder = "{\(prefix):fenced}:holder", fence = "{\(prefix):fenced}:fence"
        let channel = "{\(prefix):fenced}:channel"
        func fencedMutexCycle() async throws {
            // The acquire replies {1, lease, fence}, which reads as "1 30000 <fence>".
            let taken = try await client.benchmarkCommand(["EVALSHA", fencedAcquire, "2", holder, fence, token, "30000"])
            guard taken?.hasPrefix("1 30000 ") == true,
                try await client.benchmarkCommand(["EVALSHA", fencedRelease, "2", holder, channel, token]) == "1"
            else { throw BenchError("the fenced mutex cycle did not take and release its key") }
        }
        for _ in 0..<200 {  // loads the scripts, warms the server
            try await Cycles.cycle(lock, .write)
            try await Cycles.cycle(lock, .read)
            try await mutexCycle()
            try await fencedMutexCycle()
        }
        // The four kinds run in alternating rounds, so a machine that slows
        // down or speeds up part-way (these shared cores do, by 20% within
        // minutes) weighs on all of them alike; each figure is the median of
        // its rounds' means.
        let rounds = 15
        let perRound = max(1, cycles / rounds)
        var write: [Double] = [], read: [Double] = [], mutex: [Double] = [], fenced: [Double] = []
        for _ in 0..<rounds {
            write.append(try await perCycle(client, ["evalsha"], cycles: perRound) { try await Cycles.cycle(lock, .write) })
            read.append(try await perCycle(client, ["evalsha"], cycles: perRound) { try await Cycles.cycle(lock, .read) })
            mutex.append(try await perCycle(client, ["set", "evalsha"], cycles: perRound, mutexCycle))
            fenced.append(try await perCycle(client, ["evalsha"], cycles: perRound, fencedMutexCycle))
        }
        let note = "server µs per cycle, median of \(rounds) interleaved rounds × \(perRound) cycles"
        report.add(Measurement(metric: "server_cpu_write_cycle", p50: median(write), p99: nil, opsPerSecond: nil, note: note))
        report.add(Measurement(metric: "server_cpu_read_cycle", p50: median(read), p99: nil, opsPerSecond: nil, note: note))
        report.add(Measurement(metric: "server_cpu_mutex_cycle", p50: median(mutex), p99: nil, opsPerSecond: nil,
                               note: "SET NX PX + compare-and-delete EVALSHA, same rounds"))
        report.add(Measurement(metric: "server_cpu_fenced_mutex_cycle", p50: median(fenced), p99: nil, opsPerSecond: nil,
                               note: "lua/bench/fenced_mutex_*.lua: the mutex + fencing token + release message, same rounds"))
    }

    /// Nearest-rank median, as every other p50 here (the rounds are odd in number).
    private static func median(_ values: [Double]) -> Double? { Measurement.percentile(values.sorted(), 0.5) }

    /// Mean server µs per `cycle` spent in `commands` (INFO's lowercase names).
    private static func perCycle(
        _ client: RWLockClient, _ commands: [String], cycles: Int, _ cycle: () async throws -> Void
    ) async throws -> Double {
        let before = try await usec(client, commands)
        for _ in 0..<cycles { try await cycle() }
        let after = try await usec(client, commands)
        return Double(after - before) / Double(cycles)
    }

    private static func usec(_ client: RWLockClient, _ commands: [String]) async throws -> Int {
        try await commandStat("usec", of: commands, on: client)
    }

    /// One field of `INFO commandstats` (`calls`, `usec`), summed over
    /// `commands` (INFO's lowercase names).
    static func commandStat(_ field: String, of commands: [String], on client: RWLockClient) async throws -> Int {
        guard let info = try await client.benchmarkCommand(["INFO", "commandstats"]) else { return 0 }
        var total = 0
        for line in info.split(whereSeparator: \.isNewline) {
            for command in commands where line.hasPrefix("cmdstat_\(command):") {
                // The stats follow the colon: "cmdstat_evalsha:calls=3,usec=…".
                let stats = line.split(separator: ":", maxSplits: 1).last ?? ""
                let value = stats.split(separator: ",").first { $0.hasPrefix("\(field)=") }
                total += value.flatMap { Int($0.dropFirst(field.count + 1)) } ?? 0
            }
        }
        return total
    }
}
