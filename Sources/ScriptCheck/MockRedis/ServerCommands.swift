/// Server commands a script may call that do not touch the keyspace.
extension MockRedis {
    /// TIME replies [seconds, microseconds] as two bulk strings.
    func time() -> RedisReply {
        let seconds = nowMicros / 1_000_000
        let micros = nowMicros % 1_000_000
        return .array([.bulk(RedisNumbers.formatInt(seconds)), .bulk(RedisNumbers.formatInt(micros))])
    }

    /// PING is declared with arity -1 but accepts at most one message; with
    /// one it echoes it as a bulk string rather than the PONG status.
    func ping(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        if a.count > 2 { throw .arity("ping") }
        return a.count == 2 ? .bulk(a[1]) : .status("PONG")
    }
}
