@testable import RWLock
@testable import ScriptCheck

/// One key's state in a form both sides can produce: type, value (hashes
/// and sets unordered, sorted sets in order with scores as Redis prints
/// them) and whether a TTL is set. TTL amounts are not compared: the two
/// clocks agree only to a few milliseconds.
struct CanonicalKey: Hashable, CustomStringConvertible {
    enum Value: Hashable {
        case string([UInt8])
        case hash([[UInt8]: [UInt8]])
        case set(Set<[UInt8]>)
        case zset([[UInt8]])  // member, score text, member, score text...
        case unknown(String)
    }
    var type: String
    var value: Value
    var hasTTL: Bool

    var description: String {
        func text(_ b: [UInt8]) -> String { String(decoding: RedisCliFormat.quoted(b), as: UTF8.self) }
        let shown: String
        switch value {
        case .string(let s): shown = text(s)
        case .hash(let h): shown = "{" + h.map { text($0.key) + ": " + text($0.value) }.sorted().joined(separator: ", ") + "}"
        case .set(let s): shown = "{" + s.map(text).sorted().joined(separator: ", ") + "}"
        case .zset(let z): shown = "[" + z.map(text).joined(separator: " ") + "]"
        case .unknown(let t): shown = t
        }
        return "\(type) \(shown)\(hasTTL ? " (with TTL)" : "")"
    }
}

extension MockRedis {
    func canonicalKeyspace() -> [[UInt8]: CanonicalKey] {
        var out: [[UInt8]: CanonicalKey] = [:]
        for key in snapshot() {
            let value: CanonicalKey.Value
            switch key.value {
            case .string(let s): value = .string(s)
            case .hash(let h): value = .hash(h)
            case .set(let s): value = .set(s)
            case .zset(let z): value = .zset(z.flatMap { [$0.member, RedisNumbers.formatDouble($0.score)] })
            }
            out[key.key] = CanonicalKey(type: key.type, value: value, hasTTL: key.ttlMillis != nil)
        }
        return out
    }
}

extension HiredisConnection {
    /// Every key of the connection's database (KEYS skips logically expired
    /// keys, as the mock's snapshot does).
    func canonicalKeyspace() throws -> [[UInt8]: CanonicalKey] {
        guard case .array(let names) = try command([Array("KEYS"), Array("*")]) else { return [:] }
        var out: [[UInt8]: CanonicalKey] = [:]
        for case .bulk(let key) in names {
            let replies = try pipeline([[Array("TYPE"), key], [Array("PTTL"), key]])
            guard case .status(let type) = replies[0], case .integer(let pttl) = replies[1] else { continue }
            if type == "none" { continue }
            let value: CanonicalKey.Value
            switch type {
            case "string":
                guard case .bulk(let s) = try command([Array("GET"), key]) else { value = .unknown("?"); break }
                value = .string(s)
            case "hash":
                guard case .array(let items) = try command([Array("HGETALL"), key]) else { value = .unknown("?"); break }
                var h: [[UInt8]: [UInt8]] = [:]
                for i in stride(from: 0, to: items.count - 1, by: 2) {
                    if case .bulk(let f) = items[i], case .bulk(let v) = items[i + 1] { h[f] = v }
                }
                value = .hash(h)
            case "set":
                guard case .array(let items) = try command([Array("SMEMBERS"), key]) else { value = .unknown("?"); break }
                value = .set(Set(items.compactMap { if case .bulk(let b) = $0 { return b } else { return nil } }))
            case "zset":
                let reply = try command([Array("ZRANGE"), key, Array("0"), Array("-1"), Array("WITHSCORES")])
                guard case .array(let items) = reply else { value = .unknown("?"); break }
                value = .zset(items.compactMap { if case .bulk(let b) = $0 { return b } else { return nil } })
            default:
                value = .unknown(type)
            }
            out[key] = CanonicalKey(type: type, value: value, hasTTL: pttl >= 0)
        }
        return out
    }
}

/// Human-readable differences between two keyspaces, empty when equal.
func keyspaceDifferences(mock: [[UInt8]: CanonicalKey], server: [[UInt8]: CanonicalKey]) -> [String] {
    let keys = Set(mock.keys).union(server.keys).sorted { $0.lexicographicallyPrecedes($1) }
    return keys.compactMap { key in
        let m = mock[key], s = server[key]
        if m == s { return nil }
        let name = String(decoding: RedisCliFormat.quoted(key), as: UTF8.self)
        return "key \(name): mock \(m?.description ?? "(absent)"), server \(s?.description ?? "(absent)")"
    }
}
