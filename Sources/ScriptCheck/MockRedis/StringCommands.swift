/// GET, SET and the INCR family, following Redis 7.0's t_string.c.
extension MockRedis {
    mutating func get(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        try readString(a[1]).map(RedisReply.bulk) ?? .null
    }

    /// Options of SET, as `parseExtendedStringArgumentsOrReply` accumulates them.
    private struct SetOptions {
        var nx = false, xx = false, get = false, keepTTL = false
        var ex = false, px = false, exat = false, pxat = false
        var expire: [UInt8]? = nil
        var anyExpire: Bool { ex || px || exat || pxat }
    }

    /// Redis's SET option parser. An option that conflicts with one already
    /// seen is not a separate error: it simply fails to match and falls
    /// through to "syntax error". Repeating the same option is allowed, and a
    /// repeated EX/PX keeps the last value.
    private static func parseSetOptions(_ a: [[UInt8]]) throws(MockRedisError) -> SetOptions {
        var o = SetOptions()
        var j = 3
        while j < a.count {
            let opt = a[j].optionKeyword
            let hasNext = j + 1 < a.count
            switch opt {
            case "nx" where !o.xx: o.nx = true
            case "xx" where !o.nx: o.xx = true
            case "get": o.get = true
            case "keepttl" where !o.anyExpire: o.keepTTL = true
            case "ex" where !o.keepTTL && !o.exat && !o.px && !o.pxat && hasNext:
                o.ex = true; o.expire = a[j + 1]; j += 1
            case "px" where !o.keepTTL && !o.ex && !o.exat && !o.pxat && hasNext:
                o.px = true; o.expire = a[j + 1]; j += 1
            case "exat" where !o.keepTTL && !o.ex && !o.px && !o.pxat && hasNext:
                o.exat = true; o.expire = a[j + 1]; j += 1
            case "pxat" where !o.keepTTL && !o.ex && !o.exat && !o.px && hasNext:
                o.pxat = true; o.expire = a[j + 1]; j += 1
            default:
                throw .syntax
            }
            j += 1
        }
        return o
    }

    mutating func set(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        let key = a[1]
        let o = try Self.parseSetOptions(a)

        // setGenericCommand validates the expiry before looking at the key,
        // so a bad expiry wins over WRONGTYPE from GET.
        var deadline: Int64? = nil
        if let raw = o.expire {
            guard var ms = RedisNumbers.parseInt64(raw) else { throw .notInteger }
            let seconds = o.ex || o.exat
            if ms <= 0 || (seconds && ms > Int64.max / 1000) { throw .invalidExpire("set") }
            if seconds { ms *= 1000 }
            if o.ex || o.px {
                // Relative times are added to the clock; Redis reports an
                // overflow of that sum as an invalid expire time.
                let (sum, overflow) = ms.addingReportingOverflow(nowMillis)
                if overflow || sum <= 0 { throw .invalidExpire("set") }
                ms = sum
            }
            deadline = ms
        }

        var old: [UInt8]? = nil
        if o.get { old = try readString(key) }
        let existing = liveEntry(key)
        let getReply: RedisReply = old.map(RedisReply.bulk) ?? .null

        if (o.nx && existing != nil) || (o.xx && existing == nil) {
            return o.get ? getReply : .null
        }
        // A plain SET overwrites the TTL too; only KEEPTTL carries it over.
        // An absolute deadline already in the past still stores the key,
        // which is then logically absent (lazy expiry).
        let ttl = deadline ?? (o.keepTTL ? existing?.expireAtMs : nil)
        keyspace[RedisKey(key)] = Entry(value: .string(a[2]), expireAtMs: ttl)
        return o.get ? getReply : .status("OK")
    }

    mutating func incrByCommand(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        // The increment is parsed before the key is looked up.
        guard let by = RedisNumbers.parseInt64(a[2]) else { throw .notInteger }
        return try incrBy(a[1], by)
    }

    mutating func decrByCommand(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let by = RedisNumbers.parseInt64(a[2]) else { throw .notInteger }
        // Negating LLONG_MIN is impossible; Redis 7.0 has a dedicated message.
        if by == Int64.min { throw MockRedisError("ERR decrement would overflow") }
        return try incrBy(a[1], -by)
    }

    /// Redis `incrDecrCommand`: a missing key counts as 0, the stored string
    /// must be a canonical int64, and the TTL is kept.
    mutating func incrBy(_ key: [UInt8], _ by: Int64) throws(MockRedisError) -> RedisReply {
        let current = try readString(key)
        var old: Int64 = 0
        if let current {
            guard let v = RedisNumbers.parseInt64(current) else { throw .notInteger }
            old = v
        }
        guard let new = RedisNumbers.checkedAdd(old, by) else { throw .overflow }
        storeKeepingTTL(key, .string(RedisNumbers.formatInt(new)))
        return .integer(new)
    }
}
