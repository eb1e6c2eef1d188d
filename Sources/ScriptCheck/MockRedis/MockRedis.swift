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
        return execute(args, command: Command(nameBytes.lowercasedASCII))
    }

    /// A command looked up by its lowercased name: its table entry and its
    /// handler. The script engine looks each spelling up once and keeps it.
    struct Command: Sendable {
        let name: String
        let info: RedisCommandInfo?
        /// A container's subcommands (CONFIG GET, ...); nil for the others.
        let subcommands: Set<String>?
        fileprivate let handler: Handler?

        init(_ name: String) {
            self.name = name
            info = RedisCommandTable.commands[name]
            subcommands = RedisCommandTable.subcommands[name]
            handler = MockRedis.handlers[name]
        }
    }

    /// `execute` with the command already looked up, run by `user`.
    mutating func execute(_ args: [[UInt8]], command: Command, user: RedisUser = .unrestricted) -> RedisReply {
        // The order of these checks is Redis's scriptCall(): lookup, arity,
        // the noscript flag, the user's ACL, and only then the command itself.
        guard let info = command.info else {
            return .error(MockRedisError.unknownCommand.message)
        }
        guard info.acceptsArgumentCount(args.count) else {
            return .error(MockRedisError.scriptArity.message)
        }
        if info.noScript {
            return .error(MockRedisError.notAllowedFromScript.message)
        }
        if !user.isUnrestricted, let refusal = user.refusal(args, name: command.name, info: info) {
            return .error(refusal.message)
        }
        guard let handler = command.handler else {
            return .error("ERR mock redis does not model command '\(command.name)'")
        }
        do {
            return try handler(&self, args)
        } catch {
            return .error(error.message)
        }
    }

    typealias Handler = @Sendable (inout MockRedis, [[UInt8]]) throws(MockRedisError) -> RedisReply

    /// Each modelled command's implementation, by lowercased name: one
    /// lookup per call, where a switch would compare names one by one.
    fileprivate static let handlers: [String: Handler] = [
        "get": { r, a throws(MockRedisError) in try r.get(a) },
        "set": { r, a throws(MockRedisError) in try r.set(a) },
        "incr": { r, a throws(MockRedisError) in try r.incrBy(a[1], 1) },
        "decr": { r, a throws(MockRedisError) in try r.incrBy(a[1], -1) },
        "incrby": { r, a throws(MockRedisError) in try r.incrByCommand(a) },
        "decrby": { r, a throws(MockRedisError) in try r.decrByCommand(a) },
        "del": { r, a in r.del(a) },
        "exists": { r, a in r.exists(a) },
        "type": { r, a in r.type(a) },
        "expire": { r, a throws(MockRedisError) in try r.expireGeneric(a, baseMs: r.nowMillis, seconds: true) },
        "pexpire": { r, a throws(MockRedisError) in try r.expireGeneric(a, baseMs: r.nowMillis, seconds: false) },
        "expireat": { r, a throws(MockRedisError) in try r.expireGeneric(a, baseMs: 0, seconds: true) },
        "pexpireat": { r, a throws(MockRedisError) in try r.expireGeneric(a, baseMs: 0, seconds: false) },
        "ttl": { r, a in r.ttl(a, millis: false) },
        "pttl": { r, a in r.ttl(a, millis: true) },
        "persist": { r, a in r.persist(a) },
        "hset": { r, a throws(MockRedisError) in try r.hset(a) },
        "hget": { r, a throws(MockRedisError) in try r.hget(a) },
        "hdel": { r, a throws(MockRedisError) in try r.hdel(a) },
        "hexists": { r, a throws(MockRedisError) in try r.hexists(a) },
        "hlen": { r, a throws(MockRedisError) in try r.hlen(a) },
        "hgetall": { r, a throws(MockRedisError) in try r.hgetall(a) },
        "hincrby": { r, a throws(MockRedisError) in try r.hincrby(a) },
        "zadd": { r, a throws(MockRedisError) in try r.zadd(a) },
        "zrem": { r, a throws(MockRedisError) in try r.zrem(a) },
        "zscore": { r, a throws(MockRedisError) in try r.zscore(a) },
        "zcard": { r, a throws(MockRedisError) in try r.zcard(a) },
        "zrange": { r, a throws(MockRedisError) in try r.zrangeGeneric(a, rangeByScoreCommand: false) },
        "zrangebyscore": { r, a throws(MockRedisError) in try r.zrangeGeneric(a, rangeByScoreCommand: true) },
        "zremrangebyscore": { r, a throws(MockRedisError) in try r.zremrangebyscore(a) },
        "sadd": { r, a throws(MockRedisError) in try r.sadd(a) },
        "srem": { r, a throws(MockRedisError) in try r.srem(a) },
        "scard": { r, a throws(MockRedisError) in try r.scard(a) },
        "sismember": { r, a throws(MockRedisError) in try r.sismember(a) },
        "smembers": { r, a throws(MockRedisError) in try r.smembers(a) },
        "time": { r, _ in r.time() },
        "ping": { r, a throws(MockRedisError) in try r.ping(a) },
        "publish": { r, a in
            // Scripts' messages are recorded for the checker; nobody is
            // subscribed to the mock, so the receiver count is 0.
            r.published.append(Published(channel: a[1], message: a[2]))
            return .integer(0)
        },
    ]

    /// Commands the mock implements. A name that Redis knows but this returns
    /// false for gets "ERR mock redis does not model command '<name>'".
    public static func isSupported(_ name: String) -> Bool {
        modelled.contains(name) || modelled.contains(name.lowercased())
    }

    /// Whether Redis 7.0.15 has a top-level command of this name at all.
    public static func isKnownToRedis(_ name: String) -> Bool {
        RedisCommandTable.commands[name] != nil || RedisCommandTable.commands[name.lowercased()] != nil
    }

    static let modelled: Set<String> = Set(handlers.keys)

    /// The arguments of `args` that name keys, for the linter that checks a
    /// script only touches keys it received in KEYS.
    ///
    /// Modelled commands are exact. For other known commands this uses the
    /// legacy (first, last, step) key positions of COMMAND INFO, which is
    /// empty for movable-key commands (EVAL, SORT, ZUNIONSTORE, ...).
    public static func keyArguments(_ args: [[UInt8]]) -> [[UInt8]] {
        guard let nameBytes = args.first else { return [] }
        return keyPositions(args.count, info: RedisCommandTable.commands[nameBytes.lowercasedASCII]).map { args[$0] }
    }

    /// Where `keyArguments` finds the keys in an argument list of `count`.
    static func keyPositions(_ count: Int, info: RedisCommandInfo?) -> StrideThrough<Int> {
        guard let info, info.firstKey > 0, info.firstKey < count else { return stride(from: 1, through: 0, by: 1) }
        let last = info.lastKey < 0 ? count + info.lastKey : min(info.lastKey, count - 1)
        guard last >= info.firstKey, info.keyStep > 0 else { return stride(from: 1, through: 0, by: 1) }
        return stride(from: info.firstKey, through: last, by: info.keyStep)
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
