extension RWLockClient {
    /// Runs `script` with EVALSHA and returns its reply; on NOSCRIPT (the
    /// server's script cache was flushed, or it restarted) loads the script
    /// and tries again. On a cluster it runs on the master of `keys[0]`'s
    /// slot, which every key of a lock shares.
    ///
    /// NOSCRIPT means the script did not run, so retrying cannot apply a lock
    /// operation twice. `SCRIPT LOAD` and the retried EVALSHA go in one
    /// pipeline so a single round trip recovers; another flush in between
    /// only costs another attempt.
    ///
    /// - Returns: the script's reply; an error reply (the scripts' `RWLOCK ...`
    ///   messages, WRONGTYPE, BUSY...) is thrown as ``RWLockError/server(_:)``.
    /// - Throws: ``RWLockError`` as ``send(_:routingKey:)`` does, `.server` for an error
    ///   reply, `.protocolError` when SCRIPT LOAD answers with another digest.
    func run(
        _ script: LockScript, keys: [[UInt8]], arguments: [[UInt8]], requirements: ServerRequirements? = nil
    ) async throws -> RESPValue {
        try await run(script, keys: keys, arguments: arguments, then: nil, requirements: requirements).reply
    }

    /// ``run(_:keys:arguments:)`` followed, on the same connection and in the
    /// same round trip, by `WAIT replicas timeout`: the number of replicas
    /// that confirmed every write of that connection so far, the script's
    /// included.
    ///
    /// - Returns: the script's reply and how many replicas confirmed it
    ///   (possibly fewer than `replicas` once `timeout` passed).
    func runConfirmed(
        _ script: LockScript, keys: [[UInt8]], arguments: [[UInt8]], replicas: Int, timeout: Duration,
        requirements: ServerRequirements? = nil
    ) async throws -> (reply: RESPValue, confirmedReplicas: Int) {
        let wait = [Array("WAIT".utf8), Array(String(replicas).utf8), timeout.millisecondArgument]
        let (reply, waitReply) = try await run(script, keys: keys, arguments: arguments, then: wait, requirements: requirements)
        guard case .integer(let confirmed)? = waitReply else {
            throw RWLockError.protocolError("WAIT after \(script.name).lua answered \(waitReply.map(String.init(describing:)) ?? "nothing"), not an integer")
        }
        return (reply, Int(confirmed))
    }

    private func run(
        _ script: LockScript, keys: [[UInt8]], arguments: [[UInt8]], then follower: [[UInt8]]?,
        requirements: ServerRequirements?
    ) async throws -> (reply: RESPValue, followerReply: RESPValue?) {
        let evalsha = [Array("EVALSHA".utf8), Array(script.sha1.utf8), Array(String(keys.count).utf8)] + keys + arguments
        let routingKey = keys.first
        var replies =
            if let follower {
                try await pipeline([evalsha, follower], routingKey: routingKey, requirements: requirements)
            } else {
                [try await send(evalsha, routingKey: routingKey, requirements: requirements)]
            }
        var attempts = 0
        while case .error(let message) = replies[0], message.hasPrefix("NOSCRIPT"), attempts < 3 {
            defer { attempts += 1 }
            let load = [Array("SCRIPT".utf8), Array("LOAD".utf8), script.source]
            replies = try await pipeline(
                [load, evalsha] + (follower.map { [$0] } ?? []), routingKey: routingKey, requirements: requirements)
            if case .error(let message) = replies[0] { throw Self.scriptError(message, script: script) }
            let loaded = replies.removeFirst()
            guard loaded.string == script.sha1 else {
                throw RWLockError.protocolError(
                    "SCRIPT LOAD of \(script.name).lua answered \(loaded), not its SHA-1 \(script.sha1)")
            }
        }
        if case .error(let message) = replies[0] {
            throw Self.scriptError(message, script: script)
        }
        return (replies[0], replies.count > 1 ? replies[1] : nil)
    }

    /// An error reply to a script (or to loading it) as the error to throw:
    /// a permission the Redis user lacks (R6) as `.permissionDenied`, naming
    /// it; anything else as `.server`, quoted.
    static func scriptError(_ message: String, script: LockScript) -> RWLockError {
        let denied = message.hasPrefix("NOPERM") || message.hasPrefix("RWLOCK NOPERM")
            || message.contains("The user executing the script can't")
        guard denied else { return .server(message) }
        return .permissionDenied("Redis refused \(script.name).lua: \(message); nothing of the lock was changed")
    }
}
