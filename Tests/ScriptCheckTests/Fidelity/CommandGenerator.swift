import ScriptCheck
/// Random Redis commands over a tiny key space (so types collide), aimed at
/// the edges of every command the mock models: option combinations, numbers
/// that do not parse or overflow, expiry times that are zero, negative, past
/// or overflowing, wrong arities and unknown commands.
///
/// Expiry deadlines are always either already past or at least 100 s ahead:
/// the mock's clock follows the server's, but not to the microsecond, so a
/// key expiring *during* a sequence would make the comparison depend on
/// timing. Short TTLs are covered by unit tests with a virtual clock.
struct CommandGenerator {
    /// The server clock (ms) when the batch started, for absolute deadlines.
    let baseMs: Int64
    /// Two keys per type family; a command uses one of its family 75% of
    /// the time and any key otherwise, so types collide often but not always.
    static let families = [["s0", "s1"], ["h0", "h1"], ["z0", "z1"], ["t0", "t1"]]
    static let keys = families.flatMap { $0 }
    enum Family: Int { case string, hash, zset, set }
    static let members = ["a", "b", "c", "1", "2", "10", "-1", "m", "a\u{0}b", "é", "A",
                          String(repeating: "L", count: 70)]  // > zset-max-listpack-value: skiplist
    static let values = ["1", "10", "-5", "0", "abc", "", " 1", "01", "1.5", "-0", "+1",
                         "9223372036854775807", "-9223372036854775808", "9223372036854775808", "x y"]
    static let increments = ["1", "-1", "0", "5", "100", "9223372036854775807", "-9223372036854775808",
                             "1.5", "abc", "", "-0", " 2"]
    static let scores = ["1", "2", "2.5", "-1", "0", "-0", "inf", "-inf", "+inf", "1e308", "1e400",
                         "nan", "abc", "0x10", " 1", "1e-320", "3", "1.0", "", "-0", "-0.0", "1e-400", "4.9e-324"]
    static let bounds = ["-inf", "+inf", "inf", "0", "1", "(1", "2.5", "(2.5", "(-inf", "10", "-1",
                         "abc", "(", "", " 1", "1e999", "nan", "(3"]
    static let indexes = ["0", "1", "2", "-1", "-2", "-100", "100", "x", "9223372036854775807"]

    func key(_ g: inout SplitMix64) -> String { g.pick(Self.keys) }
    func key(_ g: inout SplitMix64, _ family: Family) -> String {
        g.chance(0.75) ? g.pick(Self.families[family.rawValue]) : g.pick(Self.keys)
    }
    /// Mostly well-formed values, sometimes an edge case from `edges`.
    func pick(_ g: inout SplitMix64, _ good: [String], _ edges: [String], edgeRate: Double = 0.3) -> String {
        g.chance(edgeRate) ? g.pick(edges) : g.pick(good)
    }

    /// Relative seconds for EX / EXPIRE.
    func seconds(_ g: inout SplitMix64) -> String {
        g.pick(["0", "-1", "-100", "100", "3600", "86400", "9223372036854775807",
                "9223372036854775", "abc", "1.5", "", "01"])
    }

    func millis(_ g: inout SplitMix64) -> String {
        g.pick(["0", "-5", "100000", "3600000", "9223372036854775807", "9223372036854775000", "x", "-9223372036854775808"])
    }

    func absoluteSeconds(_ g: inout SplitMix64) -> String {
        let s = baseMs / 1000
        return g.pick([String(s - 10), String(s + 3600), "1", "0", "-1", String(s + 864_000), "9223372036854775807", "no"])
    }

    func absoluteMillis(_ g: inout SplitMix64) -> String {
        g.pick([String(baseMs - 1000), String(baseMs + 3_600_000), "1", "0", "-1", String(baseMs - 1), "bad",
                "9223372036854775807"])
    }

    mutating func command(_ g: inout SplitMix64) -> [String] {
        let s = key(&g, .string), h = key(&g, .hash), z = key(&g, .zset), t = key(&g, .set), any = key(&g)
        let member = g.pick(Self.members)
        switch g.int(0...51) {
        case 0, 1: return ["GET", s]
        case 2, 3, 4: return set(&g, s)
        case 5: return [g.pick(["INCR", "DECR"]), s]
        case 6, 7: return [g.pick(["INCRBY", "DECRBY"]), s, pick(&g, ["1", "-1", "5", "100", "0"], Self.increments)]
        case 8: return ["DEL"] + (0..<g.int(1...3)).map { _ in key(&g) }
        case 9: return ["EXISTS"] + (0..<g.int(1...3)).map { _ in key(&g) }
        case 10: return ["TYPE", any]
        case 11, 12: return expire(&g, any)
        case 13: return [g.pick(["TTL", "PTTL"]), any]
        case 14: return ["PERSIST", any]
        case 15, 16: return hset(&g, h)
        case 17: return ["HGET", h, member]
        case 18: return ["HDEL", h] + (0..<g.int(1...3)).map { _ in g.pick(Self.members) }
        case 19: return ["HEXISTS", h, member]
        case 20: return ["HLEN", h]
        case 21: return ["HGETALL", h]
        case 22: return ["HINCRBY", h, member, pick(&g, ["1", "-1", "7", "0"], Self.increments)]
        case 23, 24, 25: return zadd(&g, z)
        case 26: return ["ZREM", z] + (0..<g.int(1...3)).map { _ in g.pick(Self.members) }
        case 27: return ["ZSCORE", z, member]
        case 28: return ["ZCARD", z]
        case 29, 30: return zrange(&g, z)
        case 31, 32: return zrangebyscore(&g, z)
        case 33: return ["ZREMRANGEBYSCORE", z, pick(&g, ["-inf", "0", "1", "(1"], Self.bounds), pick(&g, ["+inf", "2", "(3"], Self.bounds)]
        case 34, 35: return ["SADD", t] + (0..<g.int(1...4)).map { _ in g.pick(Self.members) }
        case 36: return ["SREM", t] + (0..<g.int(1...3)).map { _ in g.pick(Self.members) }
        case 37: return ["SCARD", t]
        case 38: return ["SISMEMBER", t, member]
        case 39: return ["SMEMBERS", t]
        case 40: return wrongArity(&g, any)
        case 41: return [g.pick(["NOSUCHCMD", "FOO", "getx", ""]), any]
        case 42, 43: return ["SET", s, g.pick(["1", "2", "hello", "-3"])]
        case 44: return ["HSET", h, member, g.pick(["1", "2", "v"])]
        case 45: return ["ZADD", z, g.pick(["1", "2", "3", "2.5"]), member]
        case 46: return ["SADD", t, member]
        case 48: return big(&g, z, t, h)
        case 49: return ["ZADD", z] + (g.chance(0.5) ? ["INCR"] : []) + [g.pick(["-0", "0", "-0.0", "+0"]), member]
        case 50: return [g.pick(["SET", "EXPIRE", "ZADD"]), any, g.pick(["1", "100"]),
                         g.pick(["nx\u{0}junk", "NX\r\nX", "x\u{0}", "gt\u{0}"]) ] + (g.chance(0.5) ? ["m"] : [])
        default: return [g.pick(["get", "Set", "hGeT", "zcard"]), any] + (g.chance(0.5) ? ["v"] : [])
        }
    }

    /// A write large enough to change Redis's internal encoding (listpack
    /// to skiplist/hashtable past 128 entries, intset to hashtable past 512),
    /// where -0 scores and orders could start to differ.
    func big(_ g: inout SplitMix64, _ z: String, _ t: String, _ h: String) -> [String] {
        let count = g.pick([129, 200, 513, 600])
        switch g.int(0...2) {
        case 0: return ["ZADD", z] + (0..<count).flatMap { i in [g.pick(["-0", "0", "1", "2.5", "-1", String(i)]), "m\(i)"] }
        case 1: return ["SADD", t] + (0..<count).map { i in g.chance(0.9) ? String(i) : "s\(i)" }
        default: return ["HSET", h] + (0..<count).flatMap { i in ["f\(i)", String(i)] }
        }
    }

    /// SET with a random (often invalid) mix of options, in random order.
    func set(_ g: inout SplitMix64, _ k: String) -> [String] {
        var out = ["SET", k, pick(&g, ["1", "10", "-5", "abc"], Self.values)]
        for _ in 0..<g.int(0...3) {
            switch g.int(0...9) {
            case 0: out.append(g.pick(["NX", "nx"]))
            case 1: out.append(g.pick(["XX", "xx"]))
            case 2: out.append("GET")
            case 3: out.append("KEEPTTL")
            case 4: out += ["EX", seconds(&g)]
            case 5: out += ["PX", millis(&g)]
            case 6: out += ["EXAT", absoluteSeconds(&g)]
            case 7: out += ["PXAT", absoluteMillis(&g)]
            case 8: out.append(g.pick(["EX", "PX", "BOGUS", "exat"]))  // missing value or unknown
            default: out.append(g.pick(["GET", "NX", "XX"]))
            }
        }
        return out
    }

    func expire(_ g: inout SplitMix64, _ k: String) -> [String] {
        var out: [String]
        switch g.int(0...3) {
        case 0: out = ["EXPIRE", k, seconds(&g)]
        case 1: out = ["PEXPIRE", k, millis(&g)]
        case 2: out = ["EXPIREAT", k, absoluteSeconds(&g)]
        default: out = ["PEXPIREAT", k, absoluteMillis(&g)]
        }
        if g.chance(0.35) {
            for _ in 0..<g.int(1...2) { out.append(g.pick(["NX", "XX", "GT", "LT", "gt", "BAD"])) }
        }
        return out
    }

    func hset(_ g: inout SplitMix64, _ k: String) -> [String] {
        var out = ["HSET", k]
        for _ in 0..<g.int(1...3) { out += [g.pick(Self.members), pick(&g, ["1", "5", "v"], Self.values)] }
        if g.chance(0.1) { out.append("dangling") }
        return out
    }

    func zadd(_ g: inout SplitMix64, _ k: String) -> [String] {
        var out = ["ZADD", k]
        for _ in 0..<g.int(0...3) where g.chance(0.5) {
            out.append(g.pick(["NX", "XX", "GT", "LT", "CH", "INCR", "ch", "incr"]))
        }
        let pairs = g.chance(0.1) ? 0 : g.int(1...3)
        for _ in 0..<pairs { out += [pick(&g, ["1", "2", "2.5", "-1", "3", "0"], Self.scores), g.pick(Self.members)] }
        if g.chance(0.08) { out.append(g.pick(Self.scores)) }  // odd count: syntax error
        return out
    }

    func zrange(_ g: inout SplitMix64, _ k: String) -> [String] {
        let byScore = g.chance(0.5)
        var out = ["ZRANGE", k]
        out += byScore ? [pick(&g, ["-inf", "0", "1", "(1"], Self.bounds), pick(&g, ["+inf", "3", "(2.5"], Self.bounds)]
            : [pick(&g, ["0", "1", "-2"], Self.indexes), pick(&g, ["-1", "2", "5"], Self.indexes)]
        var options: [[String]] = []
        if byScore || g.chance(0.1) { options.append([g.pick(["BYSCORE", "byscore"])]) }
        if g.chance(0.4) { options.append(["REV"]) }
        if g.chance(0.4) { options.append(["WITHSCORES"]) }
        if g.chance(0.35) { options.append(["LIMIT", g.pick(["0", "1", "2", "-1", "x"]), g.pick(["1", "2", "-1", "0", "10"])]) }
        if g.chance(0.05) { options.append([g.pick(["BOGUS", "REV", "LIMIT"])]) }
        options.shuffle(using: &g)
        return out + options.flatMap { $0 }
    }

    func zrangebyscore(_ g: inout SplitMix64, _ k: String) -> [String] {
        var out = ["ZRANGEBYSCORE", k, pick(&g, ["-inf", "0", "1", "(1"], Self.bounds), pick(&g, ["+inf", "3", "(2.5"], Self.bounds)]
        if g.chance(0.4) { out.append("WITHSCORES") }
        if g.chance(0.4) { out += ["LIMIT", g.pick(["0", "1", "-1", "3", "x"]), g.pick(["1", "2", "-1", "0"])] }
        if g.chance(0.05) { out.append(g.pick(["REV", "BYSCORE", "LIMIT"])) }
        return out
    }

    func wrongArity(_ g: inout SplitMix64, _ k: String) -> [String] {
        g.pick([["GET"], ["GET", k, "x"], ["SET", k], ["INCR"], ["INCRBY", k], ["DEL"], ["EXISTS"],
                ["TTL", k, "x"], ["HSET", k, "f"], ["HGET", k], ["HINCRBY", k, "f"], ["ZADD", k],
                ["ZADD", k, "1"], ["ZRANGE", k, "0"], ["ZSCORE", k], ["SADD", k], ["SISMEMBER", k],
                ["EXPIRE", k], ["PERSIST"], ["TYPE"], ["ZREMRANGEBYSCORE", k, "0"], ["SMEMBERS"]])
    }
}
