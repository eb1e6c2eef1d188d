import Foundation

/// A lint finding: which script, where, and what is wrong.
public struct LintFinding: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public var description: String { "\(file)\(line.map { ":\($0)" } ?? ""): \(message)" }
}

/// Static checks of the lock's scripts (S7), run before any exploration:
/// syntax, the header contract, globals, and the commands they name.
/// What can only be seen as a script runs (keys outside KEYS, the
/// instruction budget, reply shapes) is checked during exploration.
public enum Linter {
    /// Commands a lock script may call: deterministic, non-blocking, and
    /// modelled by the mock. TIME is allowed: the lock's clock is the server's.
    public static let allowedCommands: Set<String> = [
        "get", "set", "incr", "incrby", "decr", "decrby", "del", "exists", "type", "expire", "pexpire",
        "pexpireat", "expireat", "ttl", "pttl", "persist", "hset", "hget", "hdel", "hexists", "hlen",
        "hgetall", "hincrby", "zadd", "zrem", "zscore", "zcard", "zrange", "zrangebyscore",
        "zremrangebyscore", "sadd", "srem", "scard", "sismember", "smembers", "publish", "time",
    ]

    /// The allow-list as the bytes scripts usually send (lower and upper
    /// case), so the per-call check needs no string conversion.
    static let allowedCommandBytes: Set<[UInt8]> = Set(allowedCommands.flatMap { [Array($0.utf8), Array($0.uppercased().utf8)] })

    /// Globals Redis 7.0 gives a script that a lock script may read.
    public static let allowedGlobals: Set<String> = [
        "redis", "KEYS", "ARGV", "assert", "error", "ipairs", "pairs", "next", "pcall", "xpcall",
        "rawequal", "rawget", "select", "tonumber", "tostring", "type", "unpack", "string", "table", "math",
    ]

    public static func lint(_ scripts: LockScripts) -> [LintFinding] {
        let engine = ScriptEngine()
        var findings: [LintFinding] = []
        for operation in LockOperation.allCases.sorted() {
            guard let script = scripts.scripts[operation] else { continue }
            findings += lint(script, header: scripts.headers[operation], engine: engine)
        }
        return findings
    }

    static func lint(_ script: Script, header: ScriptHeader?, engine: ScriptEngine) -> [LintFinding] {
        var findings: [LintFinding] = []
        func report(_ line: Int?, _ message: String) { findings.append(LintFinding(file: script.name, line: line, message: message)) }

        switch engine.compile(script) {
        case .failure(let error):
            report(nil, "syntax error: \(error.message)")
            return findings
        case .success(let bytecode):
            guard let uses = Bytecode.globals(in: bytecode) else {
                report(nil, "cannot read the compiled bytecode to check globals")
                break
            }
            for use in uses {
                if use.isWrite {
                    report(use.line, "sets global '\(use.name)': Redis forbids globals; declare it local")
                } else if !allowedGlobals.contains(use.name) {
                    report(use.line, "reads global '\(use.name)', which is not part of a lock script's environment")
                }
            }
        }

        let header = header ?? ScriptHeader(parsing: script.source)
        if header.keys.isEmpty && header.arguments.isEmpty {
            report(1, "no header: declare KEYS[n] and ARGV[n] in the leading comment block")
        }
        if header.replyText == nil {
            report(1, "no REPLY line in the header")
        } else if header.reply == nil {
            report(1, "REPLY '\(header.replyText!)' is not a reply shape (int, bulk, status, error, nil, any, {a, b}, {a...}, a | b)")
        }
        let lines = String(decoding: script.source, as: UTF8.self).components(separatedBy: "\n")
        for (number, line) in lines.enumerated() {
            let code = line.range(of: "--").map { String(line[..<$0.lowerBound]) } ?? line
            for (table, declared) in [("KEYS", header.keys), ("ARGV", header.arguments)] {
                for index in literalIndices(of: table, in: code) where declared[index] == nil {
                    report(number + 1, "uses \(table)[\(index)], which the header does not declare")
                }
            }
            for name in calledCommands(in: code) where !allowedCommands.contains(name.lowercased()) {
                report(number + 1, "calls \(name.uppercased()), which is not on the allow-list (deterministic, non-blocking, modelled)")
            }
            if code.contains("math.random") {
                report(number + 1, "uses math.random: Redis 7 does not reseed it per script, so the script is not deterministic")
            }
        }
        return findings
    }

    private static func literalIndices(of table: String, in code: String) -> [Int] {
        var indices: [Int] = []
        var rest = code[...]
        while let range = rest.range(of: table + "[") {
            let digits = rest[range.upperBound...].prefix { $0.isNumber }
            if let index = Int(digits), rest[range.upperBound...].dropFirst(digits.count).first == "]" { indices.append(index) }
            rest = rest[range.upperBound...]
        }
        return indices
    }

    /// Every command `script` names in a `redis.call` or `redis.pcall`
    /// outside comments, lowercased: what its Redis user must be allowed.
    static func commands(calledBy script: Script) -> Set<String> {
        var names: Set<String> = []
        for line in script.source.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let end = line.indices.first { line[$0] == 0x2D && $0 + 1 < line.endIndex && line[$0 + 1] == 0x2D } ?? line.endIndex
            names.formUnion(calledCommands(in: String(decoding: line[..<end], as: UTF8.self)).map { $0.lowercased() })
        }
        return names
    }

    /// The command names a line of Lua passes to `redis.call` or
    /// `redis.pcall` as string literals, as written.
    static func calledCommands(in code: String) -> [String] {
        var names: [String] = []
        var rest = code[...]
        while let range = rest.range(of: "call(") ?? nil {
            let before = rest[..<range.lowerBound]
            let after = rest[range.upperBound...].drop { $0 == " " }
            rest = rest[range.upperBound...]
            guard before.hasSuffix("redis.") || before.hasSuffix("redis.p") else { continue }
            guard let quote = after.first, quote == "'" || quote == "\"" else { continue }
            names.append(String(after.dropFirst().prefix { $0 != quote }))
        }
        return names
    }
}
