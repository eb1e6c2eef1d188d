/// Decoding of the scripts' documented reply shapes (see each script's
/// header). Anything else is a ``RWLockError/protocolError(_:)`` naming the
/// script, never a guess.
enum ScriptReply {
    /// `int` (release, withdraw).
    static func integer(_ reply: RESPValue, from script: LockScript) throws -> Int64 {
        guard case .integer(let value) = reply else { throw unexpected(reply, script, "an integer") }
        return value
    }

    /// `{int, int}` (renew, downgrade).
    static func pair(_ reply: RESPValue, from script: LockScript) throws -> (Int64, Int64) {
        guard case .array(let items) = reply, items.count == 2,
            case .integer(let first) = items[0], case .integer(let second) = items[1]
        else { throw unexpected(reply, script, "{int, int}") }
        return (first, second)
    }

    /// `{int, int, int}` (acquire_read, acquire_write).
    static func triple(_ reply: RESPValue, from script: LockScript) throws -> (Int64, Int64, Int64) {
        guard case .array(let items) = reply, items.count == 3,
            case .integer(let first) = items[0], case .integer(let second) = items[1],
            case .integer(let third) = items[2]
        else { throw unexpected(reply, script, "{int, int, int}") }
        return (first, second, third)
    }

    private static func unexpected(_ reply: RESPValue, _ script: LockScript, _ shape: String) -> RWLockError {
        .protocolError("\(script.name).lua answered \(reply), not \(shape) as its header documents")
    }
}

extension Duration {
    /// The duration as a script's millisecond ARGV (decimal text).
    var millisecondArgument: [UInt8] { Array(String(wholeMilliseconds).utf8) }
}
