@testable import RWLock
@testable import ScriptCheck

/// One thing run on both sides: a command, or a Lua script.
enum Step: Hashable, Sendable, CustomStringConvertible {
    case command([String])
    case lua(Snippet)

    /// Commands run on the server inside this script, so that error texts
    /// are the scripting ones the mock models; the mock runs the very same
    /// script through its ScriptEngine (so replies take the same Lua round
    /// trip on both sides, e.g. integers through doubles).
    static let wrapper = "return redis.pcall(unpack(ARGV))"

    var script: String {
        switch self {
        case .command: return Self.wrapper
        case .lua(let s): return s.source
        }
    }
    var keys: [String] {
        if case .lua(let s) = self { return s.keys }
        return []
    }
    var args: [String] {
        switch self {
        case .command(let words): return words
        case .lua(let s): return s.args
        }
    }

    var description: String {
        switch self {
        case .command(let words): return describe(words: words)
        case .lua(let s):
            return "EVAL \(describe(words: [s.source])) \(s.keys.count) \(describe(words: s.keys + s.args))"
        }
    }
}

/// Where the two sides first disagreed.
struct Mismatch: CustomStringConvertible {
    /// Index of the step whose replies differ; nil when only the final
    /// keyspaces differ.
    var index: Int?
    var detail: String
    var description: String { detail }
}

/// Runs step sequences on a real server (database 9) and on the mock, and
/// reports the first disagreement.
final class DifferentialRunner {
    let connection: HiredisConnection
    /// Server runs performed, for the volume report.
    private(set) var stepsRun = 0
    /// Of those, how many the server answered with an error, and how many
    /// keys the final keyspace comparisons covered (to see the generators
    /// reach past error paths).
    private(set) var errorReplies = 0
    private(set) var keysCompared = 0

    var summary: String { "\(stepsRun) steps (\(errorReplies) error replies), \(keysCompared) final keys compared" }

    init() throws { connection = try FidelityServer.connect() }

    /// Empties the fidelity database (never FLUSHALL: other suites share the server).
    func flush() throws {
        _ = try connection.command([Array("FLUSHDB")])
    }

    /// The server's clock in microseconds.
    static func micros(_ time: RESPValue) -> Int64? {
        guard case .array(let parts) = time, parts.count == 2,
              let s = parts[0].string.flatMap({ Int64($0) }), let us = parts[1].string.flatMap({ Int64($0) }) else { return nil }
        return s * 1_000_000 + us
    }

    func serverMillis() throws -> Int64 {
        (Self.micros(try connection.command([Array("TIME")])) ?? 0) / 1000
    }

    /// Runs `steps` from an empty database on both sides; nil when every
    /// reply and the final keyspace agree.
    func run(_ steps: [Step]) throws -> Mismatch? {
        try flush()
        let engine = ScriptEngine()
        for (index, step) in steps.enumerated() {
            let eval = [Array("EVAL"), Array(step.script), Array(String(step.keys.count))]
                + step.keys.map { Array($0) } + step.args.map { Array($0) }
            let replies = try connection.pipeline([[Array("TIME")], eval])
            stepsRun += 1
            // The mock's clock follows the server's, read just before the step.
            if let now = Self.micros(replies[0]) { engine.redis.nowMicros = now }
            let script = Script(name: "fidelity", source: Array(step.script))
            let mock = normalized(engine.eval(script, keys: step.keys.map { Array($0) },
                                              arguments: step.args.map { Array($0) }).reply)
            let server = mockReply(replies[1])
            if case .error = server { errorReplies += 1 }
            if !Self.agree(step, mock: mock, server: server) {
                return Mismatch(index: index, detail: "step \(index + 1) replies differ:\n  mock:   \(describe(mock))\n  server: \(describe(server))")
            }
        }
        let serverKeys = try connection.canonicalKeyspace()
        keysCompared += serverKeys.count
        let differences = keyspaceDifferences(mock: engine.redis.canonicalKeyspace(), server: serverKeys)
        if differences.isEmpty { return nil }
        return Mismatch(index: nil, detail: "final keyspaces differ:\n  " + differences.joined(separator: "\n  "))
    }

    /// Exact equality, except where Redis itself is not deterministic:
    /// HGETALL and SMEMBERS order (hash order on the server, sorted on the
    /// mock) and TTL/PTTL amounts (two clocks a few milliseconds apart).
    static func agree(_ step: Step, mock: RedisReply, server: RedisReply) -> Bool {
        if mock == server { return true }
        guard case .command(let words) = step else { return false }
        switch (words.first?.lowercased(), mock, server) {
        case ("hgetall", .array(let a), .array(let b)):
            return a.count == b.count && a.count % 2 == 0 && pairs(a) == pairs(b)
        case ("smembers", .array(let a), .array(let b)):
            return a.count == b.count && Set(a) == Set(b)
        case ("ttl", .integer(let a), .integer(let b)) where a >= 0 && b >= 0:
            return abs(a - b) <= 1
        case ("pttl", .integer(let a), .integer(let b)) where a >= 0 && b >= 0:
            return abs(a - b) <= 50
        default:
            return false
        }
    }

    private static func pairs(_ items: [RedisReply]) -> Set<[RedisReply]> {
        Set(stride(from: 0, to: items.count - 1, by: 2).map { [items[$0], items[$0 + 1]] })
    }

    /// The shortest sequence found that still disagrees: first cut after the
    /// failing step, then drop chunks and single steps while a mismatch
    /// persists (each try re-runs both sides from an empty database).
    func shrink(_ steps: [Step], _ first: Mismatch) throws -> ([Step], Mismatch) {
        var current = steps
        var mismatch = first
        func cut() { if let i = mismatch.index { current = Array(current.prefix(i + 1)) } }
        cut()
        var budget = 3000
        var chunk = max(1, current.count / 2)
        while chunk >= 1 && budget > 0 {
            var start = 0
            var progressed = false
            while start < current.count && budget > 0 {
                var candidate = current
                candidate.removeSubrange(start..<min(current.count, start + chunk))
                budget -= 1
                if !candidate.isEmpty, let m = try run(candidate) {
                    current = candidate
                    mismatch = m
                    cut()
                    progressed = true
                } else {
                    start += chunk
                }
            }
            if !progressed { chunk /= 2 }
        }
        return (current, mismatch)
    }

    /// Runs one generated batch; on a mismatch returns the shrunk report.
    func check(_ steps: [Step], seed: UInt64, label: String) throws -> String? {
        guard let first = try run(steps) else { return nil }
        let (minimal, mismatch) = try shrink(steps, first)
        let listing = minimal.enumerated().map { "  \($0.offset + 1). \($0.element)" }.joined(separator: "\n")
        return """
            Fidelity mismatch in \(label) (FIDELITY_SEED=\(Fidelity.masterSeed.hex), batch seed \(seed.hex)).
            Shortest failing sequence (\(minimal.count) of \(steps.count) steps, from an empty database 9):
            \(listing)
            \(mismatch)
            """
    }
}
