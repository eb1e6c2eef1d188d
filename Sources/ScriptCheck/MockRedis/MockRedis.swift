/// An in-memory model of one Redis 7.0 database, as a script running inside
/// EVAL sees it.
///
/// A value type: the explorer copies states freely and hashes them to detect
/// revisits. Call `purgeExpired()` before hashing so a logically expired key
/// does not make two otherwise equal states differ.
public struct MockRedis: Hashable, Sendable {
    /// One PUBLISH the scripts performed, in order.
    public struct Published: Hashable, Sendable {
        public var channel: [UInt8]
        public var message: [UInt8]
    }

    /// Virtual server clock in microseconds since the epoch. TIME reports it
    /// and expiry compares against it (in milliseconds), like a script's
    /// frozen clock in Redis 7.0.
    public var nowMicros: Int64

    var keyspace: [RedisKey: Entry] = [:]

    public private(set) var published: [Published] = []

    /// Forgets the PUBLISH log: the explorer hashes states by what can still
    /// matter, and past messages cannot.
    public mutating func clearPublished() { published = [] }

    /// Puts messages back on the log (for a run replayed from a memo).
    mutating func appendPublished(_ messages: [Published]) { published += messages }

    public init(nowMicros: Int64 = 1_700_000_000_000_000) {
        self.nowMicros = nowMicros
    }

    /// The clock in milliseconds, which is the resolution of Redis expiry.
    public var nowMillis: Int64 { nowMicros / 1000 }

    /// Runs one command (args[0] is the name, any case) and returns its reply;
    /// failures come back as `.error` carrying Redis's exact text as seen by
    /// `redis.pcall` in a script.
    public mutating func execute(_ args: [[UInt8]]) -> RedisReply {
        guard let nameBytes = args.first else {
            return .error(MockRedisError.unknownCommand.message)
        }
        let name = nameBytes.lowercasedASCII
        return execute(args, name: name, info: RedisCommandTable.commands[name])
    }

    /// `execute` with the command's lowercased name and table entry already
    /// looked up (the script engine does so once per distinct name).
    mutating func execute(_ args: [[UInt8]], name: String, info: RedisCommandInfo?) -> RedisReply {
        // The order of these checks is Redis's scriptCall(): lookup, arity,
        // then the noscript flag, and only then the command itself.
        guard let info else {
            return .error(MockRedisError.unknownCommand.message)
        }
        guard info.acceptsArgumentCount(args.count) else {
            return .error(MockRedisError.scriptArity.message)
        }
        if info.noScript {
            return .error(MockRedisError.notAllowedFromScript.message)
        }
        do {
            return try dispatch(name, args)
        } catch {
            return .error(error.message)
        }
    }

    private mutating func dispatch(_ name: String, _ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        switch name {
        case "get": return try get(a)
        case "set": return try set(a)
        case "incr": return try incrBy(a[1], 1)
        case "decr": return try incrBy(a[1], -1)
        case "incrby": return try incrByCommand(a)
        case "decrby": return try decrByCommand(a)
        case "del": return del(a)
        case "exists": return exists(a)
        case "type": return type(a)
        case "expire": return try expireGeneric(a, baseMs: nowMillis, seconds: true)
        case "pexpire": return try expireGeneric(a, baseMs: nowMillis, seconds: false)
        case "expireat": return try expireGeneric(a, baseMs: 0, seconds: true)
        case "pexpireat": return try expireGeneric(a, baseMs: 0, seconds: false)
        case "ttl": return ttl(a, millis: false)
        case "pttl": return ttl(a, millis: true)
        case "persist": return persist(a)
        case "hset": return try hset(a)
        case "hget": return try hget(a)
        case "hdel": return try hdel(a)
        case "hexists": return try hexists(a)
        case "hlen": return try hlen(a)
        case "hgetall": return try hgetall(a)
        case "hincrby": return try hincrby(a)
        case "zadd": return try zadd(a)
        case "zrem": return try zrem(a)
        case "zscore": return try zscore(a)
        case "zcard": return try zcard(a)
        case "zrange": return try zrangeGeneric(a, rangeByScoreCommand: false)
        case "zrangebyscore": return try zrangeGeneric(a, rangeByScoreCommand: true)
        case "zremrangebyscore": return try zremrangebyscore(a)
        case "sadd": return try sadd(a)
        case "srem": return try srem(a)
        case "scard": return try scard(a)
        case "sismember": return try sismember(a)
        case "smembers": return try smembers(a)
        case "publish":
            // Scripts' messages are recorded for the checker; nobody is
            // subscribed to the mock, so the receiver count is 0.
            published.append(Published(channel: a[1], message: a[2]))
            return .integer(0)
        case "time": return time()
        case "ping": return try ping(a)
        default: throw MockRedisError("ERR mock redis does not model command '\(name)'")
        }
    }

    /// Commands the mock implements. A name that Redis knows but this returns
    /// false for gets "ERR mock redis does not model command '<name>'".
    public static func isSupported(_ name: String) -> Bool {
        modelled.contains(name) || modelled.contains(name.lowercased())
    }

    /// Whether Redis 7.0.15 has a top-level command of this name at all.
    public static func isKnownToRedis(_ name: String) -> Bool {
        RedisCommandTable.commands[name] != nil || RedisCommandTable.commands[name.lowercased()] != nil
    }

    static let modelled: Set<String> = [
        "get", "set", "incr", "incrby", "decr", "decrby", "del", "exists", "type",
        "expire", "pexpire", "expireat", "pexpireat", "ttl", "pttl", "persist",
        "hset", "hget", "hdel", "hexists", "hlen", "hgetall", "hincrby",
        "zadd", "zrem", "zscore", "zcard", "zrange", "zrangebyscore", "zremrangebyscore",
        "sadd", "srem", "scard", "sismember", "smembers", "publish", "time", "ping",
    ]

    /// The arguments of `args` that name keys, for the linter that checks a
    /// script only touches keys it received in KEYS.
    ///
    /// Modelled commands are exact. For other known commands this uses the
    /// legacy (first, last, step) key positions of COMMAND INFO, which is
    /// empty for movable-key commands (EVAL, SORT, ZUNIONSTORE, ...).
    public static func keyArguments(_ args: [[UInt8]]) -> [[UInt8]] {
        guard let nameBytes = args.first else { return [] }
        return keyArguments(args, info: RedisCommandTable.commands[nameBytes.lowercasedASCII])
    }

    static func keyArguments(_ args: [[UInt8]], info: RedisCommandInfo?) -> [[UInt8]] {
        guard let info, info.firstKey > 0, info.firstKey < args.count else { return [] }
        let last = info.lastKey < 0 ? args.count + info.lastKey : min(info.lastKey, args.count - 1)
        guard last >= info.firstKey, info.keyStep > 0 else { return [] }
        return stride(from: info.firstKey, through: last, by: info.keyStep).map { args[$0] }
    }
}

/// A command failure carrying the exact error text Redis would reply.
struct MockRedisError: Error, Sendable {
    let message: String
    init(_ message: String) { self.message = message }

    static let unknownCommand = MockRedisError("ERR Unknown Redis command called from script")
    static let scriptArity = MockRedisError("ERR Wrong number of args calling Redis command from script")
    static let notAllowedFromScript = MockRedisError("ERR This Redis command is not allowed from script")
    static let wrongType = MockRedisError("WRONGTYPE Operation against a key holding the wrong kind of value")
    static let syntax = MockRedisError("ERR syntax error")
    static let notInteger = MockRedisError("ERR value is not an integer or out of range")
    static let notFloat = MockRedisError("ERR value is not a valid float")
    static let overflow = MockRedisError("ERR increment or decrement would overflow")
    static let minMaxNotFloat = MockRedisError("ERR min or max is not a float")

    /// Redis's addReplyErrorArity, used by commands that check their own
    /// argument pattern beyond the table arity (HSET pairs, PING).
    static func arity(_ command: String) -> MockRedisError {
        MockRedisError("ERR wrong number of arguments for '\(command)' command")
    }

    static func invalidExpire(_ command: String) -> MockRedisError {
        MockRedisError("ERR invalid expire time in '\(command)' command")
    }
}
