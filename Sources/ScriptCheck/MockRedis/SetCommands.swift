/// Set commands, following Redis 7.0's t_set.c.
extension MockRedis {
    mutating func sadd(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        var s = try readSet(a[1]) ?? []
        var added: Int64 = 0
        for member in a.dropFirst(2) where s.insert(member).inserted { added += 1 }
        if added > 0 { storeKeepingTTL(a[1], .set(s)) }
        return .integer(added)
    }

    mutating func srem(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard var s = try readSet(a[1]) else { return .integer(0) }
        var removed: Int64 = 0
        for member in a.dropFirst(2) where s.remove(member) != nil { removed += 1 }
        if removed > 0 { storeAggregate(a[1], .set(s), isEmpty: s.isEmpty) }
        return .integer(removed)
    }

    mutating func scard(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        .integer(Int64(try readSet(a[1])?.count ?? 0))
    }

    mutating func sismember(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        .integer(try readSet(a[1])?.contains(a[2]) == true ? 1 : 0)
    }

    /// Redis returns a set's members in its encoding's order: an intset (all
    /// members canonical integers, at most set-max-intset-entries = 512) is
    /// ascending numerically, a hash table has no useful order. The mock
    /// mimics the intset case and otherwise sorts by bytes, so callers must
    /// compare non-integer SMEMBERS results as unordered. (Redis never turns
    /// a hash-table set back into an intset; the mock does not track that.)
    mutating func smembers(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let s = try readSet(a[1]) else { return .array([]) }
        return .array(Self.orderedMembers(s).map(RedisReply.bulk))
    }

    static func orderedMembers(_ s: Set<[UInt8]>) -> [[UInt8]] {
        if s.count <= 512 {
            let ints = s.compactMap(RedisNumbers.parseInt64)
            if ints.count == s.count {
                return ints.sorted().map(RedisNumbers.formatInt)
            }
        }
        return s.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
