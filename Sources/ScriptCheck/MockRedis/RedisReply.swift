/// One reply of the Redis protocol (RESP2), as a client or a script sees it.
///
/// Bulk strings are bytes, not `String`: Redis compares and orders members
/// with `memcmp`, and a script may store any byte sequence.
public enum RedisReply: Hashable, Sendable {
    /// `+OK`-style status line.
    case status(String)
    /// `-ERR ...` error line, without the leading `-`.
    case error(String)
    /// `:N` integer.
    case integer(Int64)
    /// `$N` bulk string.
    case bulk([UInt8])
    /// `$-1`, the nil bulk string (GET of a missing key).
    case null
    /// `*N` array.
    case array([RedisReply])
    /// `*-1`, the nil array.
    case nullArray
}

extension RedisReply {
    /// A bulk reply made from UTF-8 text.
    public static func bulk(_ text: String) -> RedisReply { .bulk(Array(text.utf8)) }
}
