import Foundation
import RWLock

/// Server CPU per cycle, from `INFO commandstats` deltas on the server the
/// bench is pointed at: what one lock cycle costs Redis itself, which caps
/// how many cycles one Redis core can grant, beside a minimal mutex cycle
/// (`SET NX PX` plus a compare-and-delete script) measured the same way.
///
/// A script's `usec` already includes the commands it calls (they are also
/// counted under their own names), so only top-level commands are summed.
/// Cycles run one at a time on one connection, and nothing else runs on the
/// bench's server meanwhile.
enum ServerCPU {
    /// The mutex's compare-and-delete script, from the package's
    /// `lua/bench/`: lua/ holds every script, so none is written in Swift.
    static func compareAndDelete() throws -> String {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../lua/bench/mutex_release.lua").standardizedFileURL
        return try String(contentsOf: file, encoding: .utf8)
    }

    static func run(_ client: RedisClient, prefix: String, report: Report, cycles: Int) async throws {
        let lock = try RWLock(name: "\(prefix):cpu", client: client)
        guard let sha = try await client.benchmarkCommand(["SCRIPT", "LOAD", try compareAndDelete()]) else {
            throw BenchError("SCRIPT LOAD returned nil")
        }
        let key = "\(prefix):mutex"
        func mutexCycle() async throws {
            let token = "mutex-token"
            guard try await client.benchmarkCommand(["SET", key, token, "NX", "PX", "30000"]) == "OK",
                try await client.benchmarkCommand(["EVALSHA", sha, "1", key, token]) == "1"
            else { throw BenchError("the mutex cycle did not take and release its key") }
        }
        for _ in 0..<200 {  // loads the scripts, warms the server
            try await Cycles.cycle(lock, .write)
            try await Cycles.cycle(lock, .read)
            try await mutexCycle()
        }
        // The three kinds run in alternating rounds, so a machine that slows
        // down or speeds up part-way (these shared cores do, by 20% within
        // minutes) weighs on all three alike; each figure is the median of
        // its rounds' means.
        let rounds = 15
        let perRound = max(1, cycles / rounds)
        var write: [Double] = [], read: [Double] = [], mutex: [Double] = []
        for _ in 0..<rounds {
            write.append(try await perCycle(client, ["evalsha"], cycles: perRound) { try await Cycles.cycle(lock, .write) })
            read.append(try await perCycle(client, ["evalsha"], cycles: perRound) { try await Cycles.cycle(lock, .read) })
            mutex.append(try await perCycle(client, ["set", "evalsha"], cycles: perRound, mutexCycle))
        }
        let note = "server µs per cycle, median of \(rounds) interleaved rounds × \(perRound) cycles"
        report.add(Measurement(metric: "server_cpu_write_cycle", p50: median(write), p99: nil, opsPerSecond: nil, note: note))
        report.add(Measurement(metric: "server_cpu_read_cycle", p50: median(read), p99: nil, opsPerSecond: nil, note: note))
        report.add(Measurement(metric: "server_cpu_mutex_cycle", p50: median(mutex), p99: nil, opsPerSecond: nil,
                               note: "SET NX PX + compare-and-delete EVALSHA, same rounds"))
    }

    /// Nearest-rank median, as every other p50 here (the rounds are odd in number).
    private static func median(_ values: [Double]) -> Double? { Measurement.percentile(values.sorted(), 0.5) }

    /// Mean server µs per `cycle` spent in `commands` (INFO's lowercase names).
    private static func perCycle(
        _ client: RedisClient, _ commands: [String], cycles: Int, _ cycle: () async throws -> Void
    ) async throws -> Double {
        let before = try await usec(client, commands)
        for _ in 0..<cycles { try await cycle() }
        let after = try await usec(client, commands)
        return Double(after - before) / Double(cycles)
    }

    private static func usec(_ client: RedisClient, _ commands: [String]) async throws -> Int {
        try await commandStat("usec", of: commands, on: client)
    }

    /// One field of `INFO commandstats` (`calls`, `usec`), summed over
    /// `commands` (INFO's lowercase names).
    static func commandStat(_ field: String, of commands: [String], on client: RedisClient) async throws -> Int {
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
