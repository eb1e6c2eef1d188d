/// Read-only views of the keyspace for the checker, which compares the
/// mock's final state with real Redis by type, value and whether a TTL is set.
public struct KeySnapshot: Hashable, Sendable {
    public var key: [UInt8]
    /// TYPE's answer: "string", "hash", "zset" or "set".
    public var type: String
    public var value: SnapshotValue
    /// Remaining time to live in milliseconds (PTTL), nil when the key has
    /// no expiry.
    public var ttlMillis: Int64?
}

/// A key's value in a canonical, order-independent form (except sorted
/// sets, whose order is part of their value).
public enum SnapshotValue: Hashable, Sendable {
    case string([UInt8])
    case hash([[UInt8]: [UInt8]])
    /// Members in Redis order (score, then member bytes), with scores.
    case zset([ZSetMember])
    case set(Set<[UInt8]>)
}

public struct ZSetMember: Hashable, Sendable {
    public var member: [UInt8]
    public var score: Double

    public init(member: [UInt8], score: Double) {
        self.member = member
        self.score = score
    }
}

extension MockRedis {
    /// Every live key, sorted by key bytes.
    public func snapshot() -> [KeySnapshot] {
        keyspace
            .filter { !isExpired($0.value) }
            .sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
            .map { key, entry in
                KeySnapshot(key: key.bytes, type: entry.value.typeName,
                            value: Self.snapshotValue(entry.value),
                            ttlMillis: entry.expireAtMs.map { max(0, $0 - nowMillis) })
            }
    }

    static func snapshotValue(_ v: RedisValue) -> SnapshotValue {
        switch v {
        case .string(let s): return .string(s)
        case .hash(let h): return .hash(h)
        case .set(let s): return .set(s)
        case .zset(let z):
            return .zset((0..<z.count).map { ZSetMember(member: z[$0].member, score: z[$0].score) })
        }
    }

    /// Deletes keys that are logically expired, so that two states that
    /// answer every command alike are also equal and hash alike.
    public mutating func purgeExpired() {
        // Checked first: filtering always builds a new table, and most states have nothing to purge.
        guard keyspace.values.contains(where: isExpired) else { return }
        keyspace = keyspace.filter { !isExpired($0.value) }
    }

    /// The value under `key` if it is live; unlike a command, this leaves
    /// an expired key in place, so it never copies the keyspace.
    func peek(_ key: [UInt8]) -> RedisValue? {
        guard let entry = keyspace[RedisKey(key)], !isExpired(entry) else { return nil }
        return entry.value
    }

    /// The last millisecond `key` lives (its PEXPIREAT deadline: Redis
    /// keeps a key while the clock has not passed it), nil when the key is
    /// absent or has no expiry.
    func lastLiveMs(_ key: [UInt8]) -> Int64? {
        guard let entry = keyspace[RedisKey(key)], !isExpired(entry) else { return nil }
        return entry.expireAtMs
    }

    /// Whether `key` is live and has no expiry.
    func isPersistent(_ key: [UInt8]) -> Bool {
        guard let entry = keyspace[RedisKey(key)] else { return false }
        return !isExpired(entry) && entry.expireAtMs == nil
    }

    /// Live keys that have no TTL, sorted by bytes (a lock key left without
    /// expiry is the classic way a crashed holder blocks everyone forever).
    public func keysWithoutExpiry() -> [[UInt8]] {
        keyspace
            .filter { !isExpired($0.value) && $0.value.expireAtMs == nil }
            .map(\.key.bytes)
            .sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// All live keys, sorted by bytes.
    public func liveKeys() -> [[UInt8]] {
        keyspace.filter { !isExpired($0.value) }.map(\.key.bytes).sorted { $0.lexicographicallyPrecedes($1) }
    }
}
