/// Hash commands, following Redis 7.0's t_hash.c.
extension MockRedis {
    mutating func hset(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        // The table arity only says "at least 4"; HSET itself insists on
        // complete field/value pairs, with the generic arity message.
        if a.count % 2 == 1 { throw .arity("hset") }
        var h = try readHash(a[1]) ?? [:]
        var created: Int64 = 0
        for i in stride(from: 2, to: a.count, by: 2) {
            if h.updateValue(a[i + 1], forKey: a[i]) == nil { created += 1 }
        }
        storeKeepingTTL(a[1], .hash(h))
        return .integer(created)
    }

    mutating func hget(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let v = try readHash(a[1])?[a[2]] else { return .null }
        return .bulk(v)
    }

    mutating func hdel(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard var h = try readHash(a[1]) else { return .integer(0) }
        var deleted: Int64 = 0
        for field in a.dropFirst(2) where h.removeValue(forKey: field) != nil {
            deleted += 1
        }
        if deleted > 0 { storeAggregate(a[1], .hash(h), isEmpty: h.isEmpty) }
        return .integer(deleted)
    }

    mutating func hexists(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        .integer(try readHash(a[1])?[a[2]] != nil ? 1 : 0)
    }

    mutating func hlen(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        .integer(Int64(try readHash(a[1])?.count ?? 0))
    }

    /// Fields come back sorted by their bytes. Real Redis returns small
    /// hashes in insertion order (listpack) and large ones in hash-table
    /// order; the mock keeps no order so that equal hashes are equal states,
    /// and callers must compare HGETALL results as unordered pairs.
    mutating func hgetall(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let h = try readHash(a[1]) else { return .array([]) }
        var out: [RedisReply] = []
        out.reserveCapacity(h.count * 2)
        for field in h.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            out.append(.bulk(field))
            out.append(.bulk(h[field]!))
        }
        return .array(out)
    }

    mutating func hincrby(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        // Increment first, then the key's type, then the field's value.
        guard let by = RedisNumbers.parseInt64(a[3]) else { throw .notInteger }
        var h = try readHash(a[1]) ?? [:]
        var old: Int64 = 0
        if let current = h[a[2]] {
            guard let v = RedisNumbers.parseInt64(current) else {
                throw MockRedisError("ERR hash value is not an integer")
            }
            old = v
        }
        guard let new = RedisNumbers.checkedAdd(old, by) else { throw .overflow }
        h[a[2]] = RedisNumbers.formatInt(new)
        storeKeepingTTL(a[1], .hash(h))
        return .integer(new)
    }
}
