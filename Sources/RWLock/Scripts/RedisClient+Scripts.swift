extension RedisClient {
    /// Runs `script` with EVALSHA and returns its reply; on NOSCRIPT (the
    /// server's script cache was flushed, or it restarted) loads the script
    /// and tries again.
    ///
    /// NOSCRIPT means the script did not run, so retrying cannot apply a lock
    /// operation twice. `SCRIPT LOAD` and the retried EVALSHA go in one
    /// pipeline so a single round trip recovers; another flush in between
    /// only costs another attempt.
    ///
    /// - Returns: the script's reply; an error reply (the scripts' `RWLOCK ...`
    ///   messages, WRONGTYPE, BUSY...) is thrown as ``RWLockError/server(_:)``.
    /// - Throws: ``RWLockError`` as ``send(_:)`` does, `.server` for an error
    ///   reply, `.protocolError` when SCRIPT LOAD answers with another digest.
    func run(_ script: LockScript, keys: [[UInt8]], arguments: [[UInt8]]) async throws -> RESPValue {
        let evalsha = [Array("EVALSHA".utf8), Array(script.sha1.utf8), Array(String(keys.count).utf8)] + keys + arguments
        var reply = try await send(evalsha)
        var attempts = 0
        while case .error(let message) = reply, message.hasPrefix("NOSCRIPT"), attempts < 3 {
            attempts += 1
            let replies = try await pipeline([[Array("SCRIPT".utf8), Array("LOAD".utf8), script.source], evalsha])
            let loaded = try replies[0].throwingServerError()
            guard loaded.string == script.sha1 else {
                throw RWLockError.protocolError(
                    "SCRIPT LOAD of \(script.name).lua answered \(loaded), not its SHA-1 \(script.sha1)")
            }
            reply = replies[1]
        }
        if case .error(let message) = reply {
            throw RWLockError.server(message)
        }
        return reply
    }
}
