#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Hashing of mock states, written out because the search hashes millions
/// of them (the visited table, the run memo): `[UInt8]`'s own conformance
/// feeds the hasher a byte at a time, and a Dictionary's seeds a hasher per
/// element. Here bytes go in whole, and unordered containers combine their
/// elements' hashes by addition, so equal values still hash alike whatever
/// their insertion order. Equality stays the synthesized, exact one.
extension MockRedis {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(nowMicros)
        hasher.combine(published.count)
        hasher.combine(keyspace.count)
        var sum = 0
        for (key, entry) in keyspace {
            var element = Hasher()
            StateHashing.combine(key.bytes, into: &element)
            element.combine(entry.expireAtMs)
            entry.value.fastHash(into: &element)
            sum &+= element.finalize()
        }
        hasher.combine(sum)
    }
}

extension RedisValue {
    func hash(into hasher: inout Hasher) { fastHash(into: &hasher) }

    func fastHash(into hasher: inout Hasher) {
        switch self {
        case .string(let bytes):
            hasher.combine(0 as UInt8)
            StateHashing.combine(bytes, into: &hasher)
        case .hash(let fields):
            hasher.combine(1 as UInt8)
            hasher.combine(StateHashing.unordered(fields) { field, value, element in
                StateHashing.combine(field, into: &element)
                StateHashing.combine(value, into: &element)
            })
        case .zset(let set):
            hasher.combine(2 as UInt8)
            set.hash(into: &hasher)
        case .set(let members):
            hasher.combine(3 as UInt8)
            var sum = 0
            for member in members {
                var element = Hasher()
                StateHashing.combine(member, into: &element)
                sum &+= element.finalize()
            }
            hasher.combine(members.count)
            hasher.combine(sum)
        }
    }
}

extension SortedSet {
    /// Scores by bit pattern, as `==` compares them.
    func hash(into hasher: inout Hasher) {
        hasher.combine(isSkiplist)
        hasher.combine(StateHashing.unordered(scores) { member, score, element in
            StateHashing.combine(member.bytes, into: &element)
            element.combine(score.bitPattern)
        })
    }
}

/// A key of the keyspace: its bytes, hashed in one call. Every command
/// looks keys up, so this is the mock's hottest hash.
struct RedisKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) { StateHashing.combine(bytes, into: &hasher) }
    /// memcmp: Array's own == goes element by element, slowly in a debug build.
    static func == (a: RedisKey, b: RedisKey) -> Bool {
        a.bytes.count == b.bytes.count && a.bytes.withUnsafeBytes { x in
            b.bytes.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
        }
    }
}

enum StateHashing {
    /// The bytes in one call, with their length so that concatenations differ.
    static func combine(_ bytes: [UInt8], into hasher: inout Hasher) {
        hasher.combine(bytes.count)
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }

    /// An order-independent hash of a dictionary's entries.
    static func unordered<Key, Value>(_ dictionary: [Key: Value], _ element: (Key, Value, inout Hasher) -> Void) -> Int {
        var sum = dictionary.count
        for (key, value) in dictionary {
            var hasher = Hasher()
            element(key, value, &hasher)
            sum &+= hasher.finalize()
        }
        return sum
    }
}
