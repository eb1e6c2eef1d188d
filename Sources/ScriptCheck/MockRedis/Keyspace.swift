/// The value stored under one key. Containers are order-independent for
/// equality (Dictionary/Set/SortedSet) so equal keyspaces hash equal.
enum RedisValue: Hashable, Sendable {
    case string([UInt8])
    case hash([[UInt8]: [UInt8]])
    case zset(SortedSet)
    case set(Set<[UInt8]>)

    /// The name TYPE replies with.
    var typeName: String {
        switch self {
        case .string: return "string"
        case .hash: return "hash"
        case .zset: return "zset"
        case .set: return "set"
        }
    }
}

/// A key's value plus its absolute expiry deadline in Unix milliseconds.
struct Entry: Hashable, Sendable {
    var value: RedisValue
    var expireAtMs: Int64?
}

extension MockRedis {
    /// Redis `keyIsExpired`: a key expires once the clock has moved *past*
    /// its deadline (`now > when`), so at `now == when` it is still alive and
    /// PTTL reports 0. (EXPIRE-family commands use `<=` instead; see
    /// `expireGeneric`.)
    func isExpired(_ entry: Entry) -> Bool {
        guard let when = entry.expireAtMs else { return false }
        return nowMillis > when
    }

    /// The live entry under `key`, deleting it if it has expired. Redis does
    /// the same on every lookup (expireIfNeeded), so an expired key is absent
    /// for reads and writes alike.
    mutating func liveEntry(_ key: [UInt8]) -> Entry? {
        guard let e = keyspace[RedisKey(key)] else { return nil }
        if isExpired(e) {
            keyspace[RedisKey(key)] = nil
            return nil
        }
        return e
    }

    mutating func readString(_ key: [UInt8]) throws(MockRedisError) -> [UInt8]? {
        guard let e = liveEntry(key) else { return nil }
        guard case .string(let s) = e.value else { throw .wrongType }
        return s
    }

    mutating func readHash(_ key: [UInt8]) throws(MockRedisError) -> [[UInt8]: [UInt8]]? {
        guard let e = liveEntry(key) else { return nil }
        guard case .hash(let h) = e.value else { throw .wrongType }
        return h
    }

    mutating func readZSet(_ key: [UInt8]) throws(MockRedisError) -> SortedSet? {
        guard let e = liveEntry(key) else { return nil }
        guard case .zset(let z) = e.value else { throw .wrongType }
        return z
    }

    mutating func readSet(_ key: [UInt8]) throws(MockRedisError) -> Set<[UInt8]>? {
        guard let e = liveEntry(key) else { return nil }
        guard case .set(let s) = e.value else { throw .wrongType }
        return s
    }

    /// Stores a modified value under `key`, keeping its TTL: Redis modifies
    /// values in place (INCR, HSET, ZADD... never touch the expiry). A new
    /// key starts without TTL.
    mutating func storeKeepingTTL(_ key: [UInt8], _ value: RedisValue) {
        let ttl = liveEntry(key)?.expireAtMs
        keyspace[RedisKey(key)] = Entry(value: value, expireAtMs: ttl)
    }

    /// Stores an aggregate after a modification; Redis deletes a hash, set or
    /// sorted set as soon as its last element is removed.
    mutating func storeAggregate(_ key: [UInt8], _ value: RedisValue, isEmpty: Bool) {
        if isEmpty {
            keyspace[RedisKey(key)] = nil
        } else {
            storeKeepingTTL(key, value)
        }
    }
}
