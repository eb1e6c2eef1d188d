/// The conversions Redis 7.0 applies between its replies and Lua values
/// (script_lua.c), for RESP2 clients.
extension ScriptEngine {
    /// A command's reply as the script sees it: integer → number, bulk →
    /// string, nil → false, status → `{ok=…}`, error → `{err=…}`.
    static func luaValue(from reply: RedisReply) -> LuaValue {
        switch reply {
        case .integer(let value): return .number(Double(value))
        case .bulk(let bytes): return .string(bytes)
        case .null, .nullArray: return .boolean(false)
        case .status(let text): return .table(LuaTable(fields: ["ok": .string(text)]))
        case .error(let text): return errorTable([0x2D] + Array(text.utf8))
        case .array(let elements): return .table(LuaTable(array: elements.map(luaValue(from:))))
        }
    }

    /// A script's return value as the client sees it: number → integer
    /// (truncated), true → 1, false and nil → nil bulk, `{err=…}` → error,
    /// `{ok=…}` → status, other tables → arrays cut at the first nil.
    static func reply(from value: LuaValue) -> RedisReply {
        switch value {
        case .string(let bytes): return .bulk(bytes)
        case .boolean(let flag): return flag ? .integer(1) : .null
        case .number(let number): return .integer(truncated(number))
        case .nil, .opaque: return .null
        case .table(let table):
            // Redis copies both with sdsnew(lua_tostring(...)), a C string:
            // the text ends at the first NUL byte (fidelity suite finding).
            if case .string(let message) = table.fields["err"] {
                return .error(oneLine(String(decoding: cString(message), as: UTF8.self)))
            }
            if case .string(let status) = table.fields["ok"] {
                return .status(oneLine(String(decoding: cString(status), as: UTF8.self)))
            }
            return .array(table.array.map(reply(from:)))
        }
    }

    /// The reply for an error the script did not catch: the handler's table
    /// becomes `<err> script: <sha1>, on <source>:<line>.` (luaCallFunction).
    static func uncaughtError(_ value: LuaValue, sha1: String) -> RedisReply {
        guard case .table(let table) = value, case .string(let message) = table.fields["err"] else {
            let text = value.text ?? "execution failure"
            return .error(oneLine("ERR Error running script f_\(sha1), \(text.prefix(100))"))
        }
        // luaExtractErrorInformation copies the message as a C string.
        var text = String(decoding: cString(message), as: UTF8.self)
        if let source = table.fields["source"]?.text, let line = table.fields["line"]?.text {
            text += " script: \(sha1), on \(source):\(line)."
        }
        return .error(oneLine(text))
    }

    /// `luaPushErrorBuff`: "-CODE message" keeps its code, anything else gets
    /// "ERR"; trailing newlines are trimmed.
    static func errorTable(_ text: String) -> LuaValue { errorTable(Array(text.utf8)) }

    static func errorTable(_ raw: [UInt8]) -> LuaValue {
        // Redis builds the buffer with sdscatfmt("%s") / sdsnew: a C string,
        // cut at the first NUL byte (fidelity suite finding).
        let bytes = cString(raw)
        var code: [UInt8] = Array("ERR".utf8)
        var message = bytes
        if bytes.first == 0x2D {
            if let space = bytes.firstIndex(of: 0x20) {
                code = Array(bytes[1..<space])
                message = Array(bytes[(space + 1)...])
            } else {
                message = Array(bytes.dropFirst())
            }
        }
        while let last = message.last, last == 0x0A || last == 0x0D { message.removeLast() }
        while let first = message.first, first == 0x0A || first == 0x0D { message.removeFirst() }
        return .table(LuaTable(fields: ["err": .string(code + [0x20] + message)]))
    }

    /// The bytes a C string function sees: up to the first NUL.
    static func cString(_ bytes: [UInt8]) -> [UInt8] {
        guard let end = bytes.firstIndex(of: 0) else { return bytes }
        return Array(bytes[..<end])
    }

    /// Redis replaces CR and LF in error and status lines with spaces so the
    /// protocol stays one line per reply.
    static func oneLine(_ text: String) -> String {
        // Most have no line break, and are kept as they are without a copy.
        guard text.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) else { return text }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: text.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        return String(scalars)
    }

    /// C's `(long long)` cast of a double as x86-64 performs it: NaN,
    /// infinities and out-of-range values become INT64_MIN.
    static func truncated(_ number: Double) -> Int64 {
        guard number.isFinite, number > -9.3e18, number < 9.3e18,
              let value = Int64(exactly: number.rounded(.towardZero)) else { return Int64.min }
        return value
    }
}
