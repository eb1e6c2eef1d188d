import Testing
@testable import ScriptCheck

/// Fast unit checks of the mock Redis. Expected replies were taken from a
/// real redis-server 7.0.15 via `redis.pcall` inside EVAL.
@Suite struct MockRedisTests {
    static let t0: Int64 = 1_700_000_000_000_000  // µs; 1_700_000_000_000 ms

    /// Runs a command given as space-free words.
    @discardableResult
    static func run(_ r: inout MockRedis, _ words: String...) -> RedisReply {
        r.execute(words.map { Array($0.utf8) })
    }

    static func err(_ text: String) -> RedisReply { .error(text) }
    static let wrongType = RedisReply.error("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let syntax = RedisReply.error("ERR syntax error")
    static let notInt = RedisReply.error("ERR value is not an integer or out of range")

    // MARK: dispatch

    @Test func unknownArityAndUnmodelled() {
        var r = MockRedis()
        #expect(Self.run(&r, "nosuchcmd") == Self.err("ERR Unknown Redis command called from script"))
        #expect(Self.run(&r, "GET") == Self.err("ERR Wrong number of args calling Redis command from script"))
        #expect(Self.run(&r, "get", "a", "b") == Self.err("ERR Wrong number of args calling Redis command from script"))
        #expect(Self.run(&r, "keys", "*") == Self.err("ERR mock redis does not model command 'keys'"))
        #expect(Self.run(&r, "LPUSH", "l", "a") == Self.err("ERR mock redis does not model command 'lpush'"))
        // Arity is checked before the noscript flag, as in scriptCall().
        #expect(Self.run(&r, "blpop", "l", "0") == Self.err("ERR This Redis command is not allowed from script"))
        #expect(Self.run(&r, "multi", "x") == Self.err("ERR Wrong number of args calling Redis command from script"))
        #expect(MockRedis.isSupported("ZADD"))
        #expect(!MockRedis.isSupported("keys"))
        #expect(MockRedis.isKnownToRedis("keys"))
        #expect(!MockRedis.isKnownToRedis("nosuchcmd"))
    }

    @Test func keyArguments() {
        func keys(_ words: String...) -> [String] {
            MockRedis.keyArguments(words.map { Array($0.utf8) }).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(keys("DEL", "a", "b", "c") == ["a", "b", "c"])
        #expect(keys("exists", "a") == ["a"])
        #expect(keys("set", "k", "v", "EX", "1") == ["k"])
        #expect(keys("hset", "h", "f", "v") == ["h"])
        #expect(keys("zrangebyscore", "z", "0", "1") == ["z"])
        #expect(keys("time").isEmpty)
        #expect(keys("publish", "ch", "m").isEmpty)
        #expect(keys("ping").isEmpty)
        #expect(keys("nosuch", "a").isEmpty)
    }

    @Test func pingTimePublish() {
        var r = MockRedis(nowMicros: 1_700_000_000_012_345)
        #expect(Self.run(&r, "ping") == .status("PONG"))
        #expect(Self.run(&r, "ping", "hi") == .bulk("hi"))
        #expect(Self.run(&r, "ping", "a", "b") == Self.err("ERR wrong number of arguments for 'ping' command"))
        #expect(Self.run(&r, "time") == .array([.bulk("1700000000"), .bulk("12345")]))
        #expect(Self.run(&r, "publish", "ch", "m") == .integer(0))
        #expect(r.published == [MockRedis.Published(channel: Array("ch".utf8), message: Array("m".utf8))])
    }

    // MARK: strings

    @Test func setOptionCombinations() {
        var r = MockRedis()
        #expect(Self.run(&r, "set", "k", "v", "EX", "10", "EX", "20") == .status("OK"))
        #expect(Self.run(&r, "ttl", "k") == .integer(20))
        #expect(Self.run(&r, "set", "k", "v", "EX", "10", "PX", "20") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "KEEPTTL", "EX", "1") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "EX", "1", "KEEPTTL") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "NX", "XX") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "EX") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "bogus") == Self.syntax)
        #expect(Self.run(&r, "set", "k", "v", "EX", "abc") == Self.notInt)
        #expect(Self.run(&r, "set", "k", "v", "EX", "1.5") == Self.notInt)
        for bad in [["EX", "0"], ["EX", "-1"], ["PX", "0"], ["PXAT", "0"], ["EXAT", "-5"],
                    ["EX", "9223372036854775"], ["PX", "9223372036854775807"]] {
            let reply = r.execute([Array("set".utf8), Array("k".utf8), Array("v".utf8)] + bad.map { Array($0.utf8) })
            #expect(reply == Self.err("ERR invalid expire time in 'set' command"), "\(bad)")
        }
    }

    @Test func setNxXxGet() {
        var r = MockRedis()
        #expect(Self.run(&r, "set", "k", "v", "XX") == .null)
        #expect(Self.run(&r, "exists", "k") == .integer(0))
        #expect(Self.run(&r, "set", "k", "v", "NX", "GET") == .null)
        #expect(Self.run(&r, "set", "k", "v2", "NX", "GET") == .bulk("v"))
        #expect(Self.run(&r, "set", "k", "v3", "NX") == .null)
        #expect(Self.run(&r, "set", "k", "v4", "XX", "GET") == .bulk("v"))
        #expect(Self.run(&r, "get", "k") == .bulk("v4"))
        Self.run(&r, "hset", "h", "f", "v")
        #expect(Self.run(&r, "set", "h", "v", "GET") == Self.wrongType)
        #expect(Self.run(&r, "type", "h") == .status("hash"))
        #expect(Self.run(&r, "set", "h", "v") == .status("OK"))
        #expect(Self.run(&r, "type", "h") == .status("string"))
    }

    @Test func setTTLHandling() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "set", "k", "v", "PX", "5000")
        Self.run(&r, "set", "k", "v2", "KEEPTTL")
        #expect(Self.run(&r, "pttl", "k") == .integer(5000))
        Self.run(&r, "set", "k", "v3")
        #expect(Self.run(&r, "pttl", "k") == .integer(-1))
        // An absolute deadline in the past stores a logically absent key.
        #expect(Self.run(&r, "set", "k", "v", "EXAT", "1") == .status("OK"))
        #expect(Self.run(&r, "exists", "k") == .integer(0))
        #expect(Self.run(&r, "set", "k", "v", "PXAT", "1700000000000") == .status("OK"))
        #expect(Self.run(&r, "pttl", "k") == .integer(0))
    }

    @Test func incrDecr() {
        var r = MockRedis()
        #expect(Self.run(&r, "incr", "n") == .integer(1))
        #expect(Self.run(&r, "decrby", "n", "5") == .integer(-4))
        #expect(Self.run(&r, "incrby", "n", "+1") == Self.notInt)
        #expect(Self.run(&r, "incrby", "n", "01") == Self.notInt)
        #expect(Self.run(&r, "decrby", "n", "-9223372036854775808") == Self.err("ERR decrement would overflow"))
        #expect(Self.run(&r, "incrby", "n", "9223372036854775807") == .integer(9223372036854775803))
        #expect(Self.run(&r, "incrby", "n", "5") == Self.err("ERR increment or decrement would overflow"))
        for bad in [" 1", "-0", "007", "1.0", "123456789012345678901", ""] {
            Self.run(&r, "set", "s", bad)
            #expect(Self.run(&r, "incr", "s") == Self.notInt, "\(bad)")
        }
        Self.run(&r, "set", "s", "-9223372036854775808")
        #expect(Self.run(&r, "decr", "s") == Self.err("ERR increment or decrement would overflow"))
        Self.run(&r, "sadd", "set", "a")
        #expect(Self.run(&r, "incr", "set") == Self.wrongType)
        // INCR keeps the TTL.
        Self.run(&r, "set", "t", "1", "EX", "100")
        Self.run(&r, "incr", "t")
        #expect(Self.run(&r, "ttl", "t") == .integer(100))
    }

    // MARK: expiry

    @Test func lazyExpiryBoundary() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "set", "k", "v", "PX", "100")
        r.nowMicros += 100_000
        // Redis expires once now > deadline: at the deadline the key lives.
        #expect(Self.run(&r, "pttl", "k") == .integer(0))
        #expect(Self.run(&r, "ttl", "k") == .integer(0))
        r.nowMicros += 1_000
        #expect(Self.run(&r, "type", "k") == .status("none"))
        #expect(Self.run(&r, "exists", "k") == .integer(0))
        #expect(Self.run(&r, "ttl", "k") == .integer(-2))
        #expect(Self.run(&r, "get", "k") == .null)
        #expect(Self.run(&r, "del", "k") == .integer(0))
    }

    @Test func expiredKeyIsAbsentForWrites() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "hset", "h", "f", "v")
        Self.run(&r, "pexpire", "h", "10")
        r.nowMicros += 20_000
        // The expired hash is gone, so a string write succeeds and KEEPTTL
        // has nothing to keep.
        #expect(Self.run(&r, "set", "h", "x", "KEEPTTL") == .status("OK"))
        #expect(Self.run(&r, "ttl", "h") == .integer(-1))
        Self.run(&r, "set", "c", "5", "PX", "10")
        r.nowMicros += 20_000
        #expect(Self.run(&r, "incr", "c") == .integer(1))
        #expect(Self.run(&r, "expire", "c", "10", "xx") == .integer(0))
    }

    @Test func ttlRounding() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "set", "k", "v")
        for (ms, secs) in [(1500, 2), (1499, 1), (500, 1), (499, 0)] as [(Int, Int64)] {
            Self.run(&r, "pexpire", "k", "\(ms)")
            #expect(Self.run(&r, "ttl", "k") == .integer(secs))
        }
        #expect(Self.run(&r, "persist", "k") == .integer(1))
        #expect(Self.run(&r, "persist", "k") == .integer(0))
        #expect(Self.run(&r, "ttl", "k") == .integer(-1))
        #expect(Self.run(&r, "persist", "nokey") == .integer(0))
        #expect(Self.run(&r, "pttl", "nokey") == .integer(-2))
    }

    @Test func expireDeletesWhenNotInFuture() {
        var r = MockRedis(nowMicros: Self.t0)
        for args in [["expire", "k", "0"], ["pexpire", "k", "-1"], ["pexpireat", "k", "1700000000000"],
                     ["expireat", "k", "-9223372036854775"]] {
            Self.run(&r, "set", "k", "v")
            #expect(r.execute(args.map { Array($0.utf8) }) == .integer(1), "\(args)")
            #expect(Self.run(&r, "exists", "k") == .integer(0))
        }
        #expect(Self.run(&r, "expire", "k", "0") == .integer(0))
        #expect(Self.run(&r, "pexpireat", "k", "9223372036854775807") == .integer(0))
    }

    @Test func expireOptionsAndErrors() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "set", "k", "v")
        #expect(Self.run(&r, "expire", "k", "10", "foo") == Self.err("ERR Unsupported option foo"))
        let nxErr = Self.err("ERR NX and XX, GT or LT options at the same time are not compatible")
        #expect(Self.run(&r, "expire", "k", "10", "nx", "xx") == nxErr)
        #expect(Self.run(&r, "expire", "k", "abc", "NX", "GT") == nxErr)
        #expect(Self.run(&r, "expire", "k", "10", "gt", "lt") == Self.err("ERR GT and LT options at the same time are not compatible"))
        #expect(Self.run(&r, "expire", "nokey", "abc") == Self.notInt)
        #expect(Self.run(&r, "expire", "k", "9223372036854775") == Self.err("ERR invalid expire time in 'expire' command"))
        #expect(Self.run(&r, "pexpire", "k", "9223372036854775807") == Self.err("ERR invalid expire time in 'pexpire' command"))
        // No TTL counts as infinite: GT fails, LT succeeds.
        #expect(Self.run(&r, "expire", "k", "100", "gt") == .integer(0))
        #expect(Self.run(&r, "expire", "k", "100", "xx") == .integer(0))
        #expect(Self.run(&r, "expire", "k", "100", "lt") == .integer(1))
        #expect(Self.run(&r, "expire", "k", "50", "nx") == .integer(0))
        #expect(Self.run(&r, "expire", "k", "100", "lt") == .integer(0))
        #expect(Self.run(&r, "expire", "k", "50", "LT") == .integer(1))
        #expect(Self.run(&r, "expire", "k", "70", "gt") == .integer(1))
        #expect(Self.run(&r, "ttl", "k") == .integer(70))
        #expect(Self.run(&r, "expire", "k", "-1", "gt") == .integer(0))
        #expect(Self.run(&r, "expire", "k", "-1", "lt") == .integer(1))
        #expect(Self.run(&r, "exists", "k") == .integer(0))
    }

    @Test func delExistsType() {
        var r = MockRedis()
        Self.run(&r, "set", "a", "1")
        Self.run(&r, "set", "b", "2")
        #expect(Self.run(&r, "exists", "a", "b", "a", "c") == .integer(3))
        #expect(Self.run(&r, "del", "a", "a", "b", "c") == .integer(2))
        Self.run(&r, "zadd", "z", "1", "m")
        #expect(Self.run(&r, "type", "z") == .status("zset"))
        #expect(Self.run(&r, "type", "none") == .status("none"))
    }

    // MARK: hashes and sets

    @Test func hashes() {
        var r = MockRedis(nowMicros: Self.t0)
        #expect(Self.run(&r, "hset", "h", "f", "v", "g") == Self.err("ERR wrong number of arguments for 'hset' command"))
        #expect(Self.run(&r, "hset", "h", "f", "1", "f", "2", "g", "x") == .integer(2))
        #expect(Self.run(&r, "hget", "h", "f") == .bulk("2"))
        #expect(Self.run(&r, "hgetall", "h") == .array([.bulk("f"), .bulk("2"), .bulk("g"), .bulk("x")]))
        Self.run(&r, "expire", "h", "100")
        #expect(Self.run(&r, "hset", "h", "n", "1") == .integer(1))
        #expect(Self.run(&r, "hincrby", "h", "n", "5") == .integer(6))
        #expect(Self.run(&r, "ttl", "h") == .integer(100))
        #expect(Self.run(&r, "hincrby", "h", "g", "1") == Self.err("ERR hash value is not an integer"))
        #expect(Self.run(&r, "hincrby", "h", "g", "x") == Self.notInt)
        Self.run(&r, "hset", "h", "big", "9223372036854775807")
        #expect(Self.run(&r, "hincrby", "h", "big", "1") == Self.err("ERR increment or decrement would overflow"))
        #expect(Self.run(&r, "hdel", "h", "f", "g", "n", "big", "nope") == .integer(4))
        #expect(Self.run(&r, "exists", "h") == .integer(0))
        Self.run(&r, "set", "s", "x")
        #expect(Self.run(&r, "hget", "s", "f") == Self.wrongType)
        #expect(Self.run(&r, "hlen", "nokey") == .integer(0))
        #expect(Self.run(&r, "hgetall", "nokey") == .array([]))
    }

    @Test func sets() {
        var r = MockRedis()
        #expect(Self.run(&r, "sadd", "s", "b", "a", "b") == .integer(2))
        #expect(Self.run(&r, "sismember", "s", "a") == .integer(1))
        #expect(Self.run(&r, "smembers", "s") == .array([.bulk("a"), .bulk("b")]))
        #expect(Self.run(&r, "srem", "s", "a", "b", "z") == .integer(2))
        #expect(Self.run(&r, "exists", "s") == .integer(0))
        Self.run(&r, "sadd", "i", "10", "-5", "2")
        // All-integer small sets are intsets in Redis: numeric order.
        #expect(Self.run(&r, "smembers", "i") == .array([.bulk("-5"), .bulk("2"), .bulk("10")]))
        #expect(Self.run(&r, "scard", "i") == .integer(3))
        #expect(Self.run(&r, "sadd", "i") == Self.err("ERR Wrong number of args calling Redis command from script"))
    }

    // MARK: sorted sets

    @Test func scoreParsingAndFormatting() {
        var r = MockRedis()
        Self.run(&r, "zadd", "z", "1.5", "a", "3", "b", "0.1", "c", "inf", "d", "-inf", "e",
                 "1e-320", "g", "0x10", "h", "1e21", "i", "2.5e-5", "j")
        let expected: [(String, String)] = [("a", "1.5"), ("b", "3"), ("c", "0.10000000000000001"),
            ("d", "inf"), ("e", "-inf"), ("g", "9.9998886718268301e-321"), ("h", "16"),
            ("i", "1e+21"), ("j", "2.5000000000000001e-05")]
        for (m, s) in expected {
            #expect(Self.run(&r, "zscore", "z", m) == .bulk(s), "\(m)")
        }
        for bad in ["1e400", "nan", " 1", "1 ", "", "1e-400", "abc"] {
            #expect(Self.run(&r, "zadd", "z", bad, "x") == Self.err("ERR value is not a valid float"), "\(bad)")
        }
        // Listpack storage turns -0 into 0, but ZADD INCR replies the raw sum.
        #expect(Self.run(&r, "zadd", "z", "incr", "-0", "n") == .bulk("-0"))
        #expect(Self.run(&r, "zscore", "z", "n") == .bulk("0"))
    }

    @Test func zaddOptions() {
        var r = MockRedis()
        #expect(Self.run(&r, "zadd", "z", "nx", "xx", "1", "a") == Self.err("ERR XX and NX options at the same time are not compatible"))
        let gtErr = Self.err("ERR GT, LT, and/or NX options at the same time are not compatible")
        #expect(Self.run(&r, "zadd", "z", "gt", "lt", "1", "a") == gtErr)
        #expect(Self.run(&r, "zadd", "z", "nx", "gt", "1", "a") == gtErr)
        #expect(Self.run(&r, "zadd", "z", "incr", "1", "a", "2", "b") == Self.err("ERR INCR option supports a single increment-element pair"))
        #expect(Self.run(&r, "zadd", "z", "xx", "1") == Self.syntax)
        #expect(Self.run(&r, "zadd", "z", "1", "a", "2") == Self.syntax)
        #expect(Self.run(&r, "zadd", "z", "xx", "1", "a") == .integer(0))
        #expect(Self.run(&r, "exists", "z") == .integer(0))
        #expect(Self.run(&r, "zadd", "z", "xx", "incr", "1", "a") == .null)
        #expect(Self.run(&r, "zadd", "z", "1", "a", "2", "b") == .integer(2))
        #expect(Self.run(&r, "zadd", "z", "gt", "ch", "5", "a", "1", "b", "7", "c") == .integer(2))
        #expect(Self.run(&r, "zadd", "z", "gt", "incr", "-1", "a") == .null)
        #expect(Self.run(&r, "zadd", "z", "lt", "incr", "-1", "a") == .bulk("4"))
        #expect(Self.run(&r, "zadd", "z", "nx", "incr", "1", "a") == .null)
        #expect(Self.run(&r, "zadd", "z", "ch", "4", "a") == .integer(0))
        #expect(Self.run(&r, "zadd", "z", "incr", "+inf", "d") == .bulk("inf"))
        #expect(Self.run(&r, "zadd", "z", "incr", "-inf", "d") == Self.err("ERR resulting score is not a number (NaN)"))
        Self.run(&r, "set", "s", "x")
        #expect(Self.run(&r, "zadd", "s", "1", "a") == Self.wrongType)
        #expect(Self.run(&r, "zadd", "s", "x", "a") == Self.err("ERR value is not a valid float"))
    }

    @Test func zrangeByRank() {
        var r = MockRedis()
        Self.run(&r, "zadd", "z", "1", "a", "2", "b", "2", "bb", "3", "c")
        func members(_ reply: RedisReply) -> [String] {
            guard case .array(let items) = reply else { return ["<\(reply)>"] }
            return items.map { if case .bulk(let b) = $0 { String(decoding: b, as: UTF8.self) } else { "?" } }
        }
        #expect(members(Self.run(&r, "zrange", "z", "0", "-1")) == ["a", "b", "bb", "c"])
        #expect(members(Self.run(&r, "zrange", "z", "-2", "100", "withscores")) == ["bb", "2", "c", "3"])
        #expect(members(Self.run(&r, "zrange", "z", "0", "1", "rev")) == ["c", "bb"])
        #expect(members(Self.run(&r, "zrange", "z", "3", "1")) == [])
        #expect(Self.run(&r, "zrange", "z", "0", "-1", "limit", "0", "1") ==
                Self.err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"))
        #expect(members(Self.run(&r, "zrange", "z", "0", "0", "limit", "5", "-1")) == ["a"])
        #expect(Self.run(&r, "zrange", "z", "0", "-1", "rev", "rev") == Self.syntax)
        #expect(Self.run(&r, "zrange", "z", "a", "1") == Self.notInt)
        #expect(members(Self.run(&r, "zrange", "z", "(1", "3", "byscore", "limit", "1", "1")) == ["bb"])
        #expect(members(Self.run(&r, "zrange", "z", "3", "(1", "byscore", "rev")) == ["c", "bb", "b"])
    }

    @Test func zrangeByScore() {
        var r = MockRedis()
        Self.run(&r, "zadd", "z", "1", "a", "2", "b", "3", "c", "-inf", "n", "inf", "p")
        func members(_ reply: RedisReply) -> [String] {
            guard case .array(let items) = reply else { return ["<\(reply)>"] }
            return items.map { if case .bulk(let b) = $0 { String(decoding: b, as: UTF8.self) } else { "?" } }
        }
        #expect(members(Self.run(&r, "zrangebyscore", "z", "-inf", "+inf")) == ["n", "a", "b", "c", "p"])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "(1", "(3", "WITHSCORES")) == ["b", "2"])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "2", "2")) == ["b"])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "(2", "2")) == [])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "1", "3", "limit", "1", "-1")) == ["b", "c"])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "1", "3", "limit", "-1", "1")) == [])
        // Range bounds use plain strtod: "" and "(" parse as 0, 1e999 as inf.
        #expect(members(Self.run(&r, "zrangebyscore", "z", "", "1")) == ["a"])
        #expect(members(Self.run(&r, "zrangebyscore", "z", "1e999", "inf")) == ["p"])
        #expect(Self.run(&r, "zrangebyscore", "z", "nan", "1") == Self.err("ERR min or max is not a float"))
        #expect(Self.run(&r, "zrangebyscore", "z", "1", "x") == Self.err("ERR min or max is not a float"))
        #expect(Self.run(&r, "zrangebyscore", "z", "1", "3", "rev") == Self.syntax)
        #expect(Self.run(&r, "zrangebyscore", "z", "1", "3", "limit", "1") == Self.syntax)
        #expect(Self.run(&r, "zremrangebyscore", "z", "(1", "3") == .integer(2))
        #expect(Self.run(&r, "zremrangebyscore", "z", "-inf", "+inf") == .integer(3))
        #expect(Self.run(&r, "exists", "z") == .integer(0))
        #expect(Self.run(&r, "zremrangebyscore", "z", "a", "b") == Self.err("ERR min or max is not a float"))
    }

    @Test func zsetRemovalDeletesKeyAndKeepsTTL() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "zadd", "z", "1", "a", "2", "b")
        Self.run(&r, "expire", "z", "100")
        #expect(Self.run(&r, "zrem", "z", "a", "x") == .integer(1))
        #expect(Self.run(&r, "ttl", "z") == .integer(100))
        #expect(Self.run(&r, "zcard", "z") == .integer(1))
        #expect(Self.run(&r, "zrem", "z", "b") == .integer(1))
        #expect(Self.run(&r, "type", "z") == .status("none"))
        #expect(Self.run(&r, "zscore", "z", "b") == .null)
    }

    // MARK: checker helpers

    @Test func statesCompareByContent() {
        var a = MockRedis(nowMicros: Self.t0)
        var b = MockRedis(nowMicros: Self.t0)
        Self.run(&a, "zadd", "z", "1", "x", "2", "y")
        Self.run(&b, "zadd", "z", "2", "y", "1", "x")
        Self.run(&a, "hset", "h", "f", "1", "g", "2")
        Self.run(&b, "hset", "h", "g", "2", "f", "1")
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)

        Self.run(&a, "set", "tmp", "v", "PX", "5")
        a.nowMicros += 10_000
        b.nowMicros += 10_000
        #expect(a != b)
        a.purgeExpired()
        #expect(a == b)
    }

    @Test func snapshotAndKeysWithoutExpiry() {
        var r = MockRedis(nowMicros: Self.t0)
        Self.run(&r, "set", "lock", "owner", "PX", "3000")
        Self.run(&r, "zadd", "q", "2", "b", "1", "a")
        Self.run(&r, "set", "gone", "v", "PX", "1")
        r.nowMicros += 2_000
        let snap = r.snapshot()
        #expect(snap.map { String(decoding: $0.key, as: UTF8.self) } == ["lock", "q"])
        #expect(snap[0].type == "string")
        #expect(snap[0].ttlMillis == 2998)
        #expect(snap[1].ttlMillis == nil)
        #expect(snap[1].value == .zset([ZSetMember(member: Array("a".utf8), score: 1),
                                        ZSetMember(member: Array("b".utf8), score: 2)]))
        #expect(r.keysWithoutExpiry() == [Array("q".utf8)])
    }
}
