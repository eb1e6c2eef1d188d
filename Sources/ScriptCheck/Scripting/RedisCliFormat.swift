/// Prints a reply exactly as `redis-cli --no-raw` prints it on a terminal
/// (`cliFormatReplyTTY` in redis-cli.c), byte for byte, so `script-check
/// eval` output can be diffed against a real server's.
public enum RedisCliFormat {
    /// The reply as redis-cli prints it, ending in a newline.
    public static func format(_ reply: RedisReply) -> [UInt8] {
        format(reply, prefix: [])
    }

    private static func format(_ reply: RedisReply, prefix: [UInt8]) -> [UInt8] {
        switch reply {
        case .error(let text): return Array("(error) \(text)\n".utf8)
        case .status(let text): return Array(text.utf8) + [0x0A]
        case .integer(let value): return Array("(integer) \(value)\n".utf8)
        case .bulk(let bytes): return quoted(bytes) + [0x0A]
        case .null, .nullArray: return Array("(nil)\n".utf8)
        case .array(let elements):
            if elements.isEmpty { return Array("(empty array)\n".utf8) }
            let width = String(elements.count).count
            // Nested arrays indent by the width of "N) " of their parent.
            let nested = prefix + [UInt8](repeating: 0x20, count: width + 2)
            var out: [UInt8] = []
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out += prefix }
                let index = String(offset + 1)
                out += [UInt8](repeating: 0x20, count: width - index.count) + Array(index.utf8) + Array(") ".utf8)
                out += format(element, prefix: nested)
            }
            return out
        }
    }

    /// `sdscatrepr`: C escapes for quotes, backslash and control characters,
    /// `\xNN` for anything not printable in the C locale.
    static func quoted(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for byte in bytes {
            switch byte {
            case 0x5C, 0x22: out += [0x5C, byte]
            case 0x0A: out += Array("\\n".utf8)
            case 0x0D: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0x07: out += Array("\\a".utf8)
            case 0x08: out += Array("\\b".utf8)
            case 0x20...0x7E: out.append(byte)
            default:
                let hex = String(byte, radix: 16)
                out += Array("\\x\(byte < 16 ? "0" : "")\(hex)".utf8)
            }
        }
        out.append(0x22)
        return out
    }
}
