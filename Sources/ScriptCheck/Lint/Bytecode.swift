/// Reads Lua 5.1 bytecode (as `lua_dump` writes it on this platform) just
/// far enough to list every global a chunk reads or writes, with its line:
/// the GETGLOBAL and SETGLOBAL instructions of every nested function.
struct Bytecode {
    struct GlobalUse: Hashable {
        var name: String
        var line: Int
        var isWrite: Bool
    }

    private let bytes: [UInt8]
    private var position = 0

    /// The globals `bytecode` uses; nil when it is not a dump this reader
    /// understands (the header's sizes differ from the expected ones).
    static func globals(in bytecode: [UInt8]) -> [GlobalUse]? {
        var reader = Bytecode(bytes: bytecode)
        // ESC "Lua" 0x51, format 0, little endian, int 4, size_t 8, Instruction 4, number 8, not integral.
        let expected: [UInt8] = [0x1B, 0x4C, 0x75, 0x61, 0x51, 0, 1, 4, 8, 4, 8, 0]
        guard bytecode.count > expected.count, Array(bytecode.prefix(expected.count)) == expected else { return nil }
        reader.position = expected.count
        var uses: [GlobalUse] = []
        guard reader.function(into: &uses) else { return nil }
        return uses
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func function(into uses: inout [GlobalUse]) -> Bool {
        guard string() != nil, int() != nil, int() != nil, skip(4) else { return false }
        guard let codeCount = int(), codeCount >= 0 else { return false }
        var code: [UInt32] = []
        for _ in 0..<codeCount {
            guard let instruction = uint32() else { return false }
            code.append(instruction)
        }
        guard let constantCount = int(), constantCount >= 0 else { return false }
        var constants: [String?] = []
        for _ in 0..<constantCount {
            guard let type = byte() else { return false }
            switch type {
            case 0: constants.append(nil)
            case 1: guard skip(1) else { return false }; constants.append(nil)
            case 3: guard skip(8) else { return false }; constants.append(nil)
            case 4: guard let text = string() else { return false }; constants.append(text)
            default: return false
            }
        }
        guard let protoCount = int(), protoCount >= 0 else { return false }
        var nested: [GlobalUse] = []
        for _ in 0..<protoCount {
            guard function(into: &nested) else { return false }
        }
        guard let lineCount = int(), lineCount >= 0 else { return false }
        var lines: [Int] = []
        for _ in 0..<lineCount {
            guard let line = int() else { return false }
            lines.append(line)
        }
        guard let localCount = int(), localCount >= 0 else { return false }
        for _ in 0..<localCount { guard string() != nil, skip(8) else { return false } }
        guard let upvalueCount = int(), upvalueCount >= 0 else { return false }
        for _ in 0..<upvalueCount { guard string() != nil else { return false } }

        for (index, instruction) in code.enumerated() {
            let opcode = instruction & 0x3F
            guard opcode == 5 || opcode == 7 else { continue }   // OP_GETGLOBAL, OP_SETGLOBAL
            let constant = Int(instruction >> 14)
            guard constant < constants.count, let name = constants[constant] else { continue }
            uses.append(GlobalUse(name: name, line: index < lines.count ? lines[index] : 0, isWrite: opcode == 7))
        }
        uses += nested
        return true
    }

    private mutating func byte() -> UInt8? {
        guard position < bytes.count else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func skip(_ count: Int) -> Bool {
        guard position + count <= bytes.count else { return false }
        position += count
        return true
    }

    private mutating func uint32() -> UInt32? {
        guard position + 4 <= bytes.count else { return nil }
        defer { position += 4 }
        return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[position + $1]) << (8 * UInt32($1)) }
    }

    private mutating func int() -> Int? { uint32().map { Int(Int32(bitPattern: $0)) } }

    private mutating func string() -> String?? {
        guard position + 8 <= bytes.count else { return nil }
        let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[position + $1]) << (8 * UInt64($1)) }
        position += 8
        guard length > 0 else { return .some(nil) }
        guard length <= UInt64(bytes.count - position) else { return nil }
        let text = String(decoding: bytes[position..<(position + Int(length) - 1)], as: UTF8.self)
        position += Int(length)
        return .some(text)
    }
}
