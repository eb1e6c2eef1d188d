/// One decoded Redis reply (RESP2), as HiredisConnection returns it.
///
/// Bulk strings stay bytes: lock tokens and keys are compared byte-wise by
/// Redis, and a script may return any byte sequence. An error reply is a
/// value, not a thrown error, because inside a pipeline or a script's array
/// it is one element among others; `command` throws only when the
/// connection itself failed.
///
/// hiredis 0.14 reports both `$-1` and `*-1` as REDIS_REPLY_NIL, so replies
/// decoded from a live server are `.null` for either; `.nullArray` exists
/// for parity with ScriptCheck's `RedisReply` and newer hiredis versions.
enum RESPValue: Hashable, Sendable {
    /// `+OK`-style status line.
    case status(String)
    /// `-ERR ...` error reply, without the leading `-`.
    case error(String)
    /// `:N` integer.
    case integer(Int64)
    /// `$N` bulk string.
    case bulk([UInt8])
    /// `$-1`, the nil bulk string.
    case null
    /// `*N` array.
    case array([RESPValue])
    /// `*-1`, the nil array.
    case nullArray
}

extension RESPValue {
    /// A bulk reply made from UTF-8 text.
    static func bulk(_ text: String) -> RESPValue { .bulk(Array(text.utf8)) }

    /// The reply as a ``RWLockError/Kind/server`` error when it is an error
    /// reply, for callers that treat any error reply as a failure.
    func throwingServerError() throws -> RESPValue {
        if case .error(let message) = self { throw RWLockError.server(message) }
        return self
    }

    /// The text of a bulk or status reply, when it is valid UTF-8.
    var string: String? {
        switch self {
        case .bulk(let bytes): String(validating: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }
}
