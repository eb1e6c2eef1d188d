#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Lua value copied out of (or into) the embedded interpreter.
///
/// Tables are copied the way Redis reads them when it converts a script's
/// reply: the array part from index 1 up to the first nil, plus the few
/// string fields Redis looks at (`err`, `ok`, and the `source`/`line` its
/// error handler adds). Everything else of a table is invisible to Redis, so
/// it is invisible here too.
enum LuaValue: Hashable, Sendable {
    case `nil`
    case boolean(Bool)
    case number(Double)
    case string([UInt8])
    case table(LuaTable)
    /// A function, userdata or thread: Redis converts these to a nil bulk.
    case opaque(typeName: String)

    static func string(_ text: String) -> LuaValue { .string(Array(text.utf8)) }

    /// The value as text, when it is a string or a number (Lua's own coercion).
    var text: String? {
        switch self {
        case .string(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .number(let number): return LuaValue.format(number)
        default: return nil
        }
    }

    /// Lua 5.1's `tostring` of a number (`%.14g`).
    static func format(_ number: Double) -> String {
        formatG(number, precision: 14)
    }
}

/// The parts of a Lua table that Redis's reply conversion reads.
struct LuaTable: Hashable, Sendable {
    /// `t[1]`, `t[2]`, … up to (not including) the first nil.
    var array: [LuaValue] = []
    /// The string-keyed fields Redis inspects, when present.
    var fields: [String: LuaValue] = [:]

    /// The field names copied out of a table; see `LuaValue`.
    static let inspectedFields = ["err", "ok", "source", "line", "ignore_error_stats_update"]
}

/// C's `%.<precision>g`, which Lua and Redis use to print doubles.
func formatG(_ number: Double, precision: Int) -> String {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buffer in
        let count = withVaList([number]) { vsnprintf(buffer.baseAddress, 64, "%.\(precision)g", $0) }
        return String(decoding: UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(count)), as: UTF8.self)
    }
}
