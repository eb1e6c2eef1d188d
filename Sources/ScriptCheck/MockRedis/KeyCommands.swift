/// Keyspace commands (DEL, EXISTS, TYPE) and expiry commands, following
/// Redis 7.0's db.c and expire.c.
extension MockRedis {
    mutating func del(_ a: [[UInt8]]) -> RedisReply {
        var n: Int64 = 0
        // An expired key is not counted: Redis expires it during lookup,
        // before the delete would have found it.
        for key in a.dropFirst() where liveEntry(key) != nil {
            keyspace[RedisKey(key)] = nil
            n += 1
        }
        return .integer(n)
    }

    /// EXISTS counts every argument, so a key named twice counts twice.
    mutating func exists(_ a: [[UInt8]]) -> RedisReply {
        var n: Int64 = 0
        for key in a.dropFirst() where liveEntry(key) != nil { n += 1 }
        return .integer(n)
    }

    mutating func type(_ a: [[UInt8]]) -> RedisReply {
        .status(liveEntry(a[1])?.value.typeName ?? "none")
    }

    /// The NX/XX/GT/LT flags of Redis 7.0 EXPIRE-family commands.
    private struct ExpireFlags {
        var nx = false, xx = false, gt = false, lt = false
    }

    /// Redis `parseExtendedExpireArgumentsOrReply`: runs before the time
    /// argument is even parsed, so its errors take precedence.
    private static func parseExpireFlags(_ a: [[UInt8]]) throws(MockRedisError) -> ExpireFlags {
        var f = ExpireFlags()
        for opt in a.dropFirst(3) {
            switch opt.optionKeyword {
            case "nx": f.nx = true
            case "xx": f.xx = true
            case "gt": f.gt = true
            case "lt": f.lt = true
            default:
                // Redis formats the option with %s, i.e. up to a NUL byte,
                // and turns CR/LF into spaces to keep the protocol valid.
                let end = opt.firstIndex(of: 0) ?? opt.count
                let bytes = opt[0..<end].map { $0 == 13 || $0 == 10 ? 32 : $0 }
                let shown = String(decoding: bytes, as: UTF8.self)
                throw MockRedisError("ERR Unsupported option \(shown)")
            }
        }
        if f.nx && (f.xx || f.gt || f.lt) {
            throw MockRedisError("ERR NX and XX, GT or LT options at the same time are not compatible")
        }
        if f.gt && f.lt {
            throw MockRedisError("ERR GT and LT options at the same time are not compatible")
        }
        return f
    }

    /// Redis `expireGenericCommand` for EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT.
    mutating func expireGeneric(_ a: [[UInt8]], baseMs: Int64, seconds: Bool) throws(MockRedisError) -> RedisReply {
        let command = a[0].lowercasedASCII
        let key = a[1]
        let flags = try Self.parseExpireFlags(a)
        guard var when = RedisNumbers.parseInt64(a[2]) else { throw .notInteger }
        // Negative times are allowed (they delete the key); only overflow of
        // the unit conversion or of the addition to the clock is an error.
        if seconds {
            if when > Int64.max / 1000 || when < Int64.min / 1000 { throw .invalidExpire(command) }
            when *= 1000
        }
        if when > Int64.max - baseMs { throw .invalidExpire(command) }
        when += baseMs

        guard let entry = liveEntry(key) else { return .integer(0) }
        let current = entry.expireAtMs
        if flags.nx && current != nil { return .integer(0) }
        if flags.xx && current == nil { return .integer(0) }
        // A key without TTL counts as an infinite TTL: GT never beats it, LT
        // always does.
        if flags.gt {
            guard let current, when > current else { return .integer(0) }
        }
        if flags.lt, let current, when >= current { return .integer(0) }

        // checkAlreadyExpired uses `<=`, unlike lazy expiry's `>`: a deadline
        // equal to the clock deletes the key right away.
        if when <= nowMillis {
            keyspace[RedisKey(key)] = nil
        } else {
            keyspace[RedisKey(key)] = Entry(value: entry.value, expireAtMs: when)
        }
        return .integer(1)
    }

    /// Redis `ttlGenericCommand`: -2 missing, -1 no TTL, otherwise the
    /// remaining time, with seconds rounded to nearest ((ms+500)/1000).
    mutating func ttl(_ a: [[UInt8]], millis: Bool) -> RedisReply {
        guard let entry = liveEntry(a[1]) else { return .integer(-2) }
        guard let when = entry.expireAtMs else { return .integer(-1) }
        let remaining = max(0, when - nowMillis)
        return .integer(millis ? remaining : (remaining + 500) / 1000)
    }

    mutating func persist(_ a: [[UInt8]]) -> RedisReply {
        guard var entry = liveEntry(a[1]), entry.expireAtMs != nil else { return .integer(0) }
        entry.expireAtMs = nil
        keyspace[RedisKey(a[1])] = entry
        return .integer(1)
    }
}
