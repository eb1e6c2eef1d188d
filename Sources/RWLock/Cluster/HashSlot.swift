/// A Redis Cluster hash slot (0...16383): the shard a key lives on.
///
/// The slot is CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the
/// key's hash tag, modulo 16384. The hash tag is the part between the first
/// `{` and the next `}` when that part is not empty, otherwise the whole key,
/// exactly as Redis's `keyHashSlot` defines it. Every key of a lock is
/// `rwlock:{name}:…`, so all of them, and the lock's channel, share the slot
/// of `name`.
struct HashSlot: Hashable, Sendable, CustomStringConvertible {
    /// The number of slots in a Redis Cluster.
    static let count = 16384

    /// 0 ..< 16384.
    let number: Int

    init?(number: Int) {
        guard (0..<Self.count).contains(number) else { return nil }
        self.number = number
    }

    /// The slot Redis assigns to `key`.
    init(key: [UInt8]) {
        number = Int(Self.crc16(Self.hashTag(of: key)) & UInt16(Self.count - 1))
    }

    var description: String { String(number) }

    /// The bytes Redis hashes: the first non-empty `{…}` section, or the key.
    static func hashTag(of key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
            close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC16/XMODEM, bit by bit: a lock operation hashes one short tag, so a
    /// 512-byte table would buy nothing measurable.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 {
                crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1
            }
        }
        return crc
    }
}
