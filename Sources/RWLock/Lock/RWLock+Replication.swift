extension RWLock.Options {
    /// Grants that count only once replicas have them: after each acquire,
    /// renew and downgrade the lock sends `WAIT replicas timeout` on the same
    /// connection, in the same round trip, and trusts the result only when
    /// at least `replicas` replicas confirmed it.
    ///
    /// Redis replicates asynchronously, so a master that fails right after a
    /// grant can take the grant with it: the promoted replica never saw it
    /// and grants the lock again. Waiting for replicas makes that much less
    /// likely (a replica that confirmed has the grant; Redis Cluster promotes
    /// the most up-to-date replica), at the cost of a replication round trip
    /// per operation. It does not make it impossible (WAIT is not consensus),
    /// so keep checking fences. See the DocC article "Redis Cluster".
    ///
    /// ```swift
    /// var options = RWLock.Options()
    /// options.replicatedGrants = .init(replicas: 1, timeout: .milliseconds(100))
    /// ```
    public struct ReplicatedGrants: Sendable, Hashable {
        /// How many replicas must confirm; at least 1.
        public var replicas: Int
        /// How long WAIT may block for them: positive, at most a third of
        /// the lease (the wait is part of the lease's time).
        public var timeout: Duration

        /// Requires `replicas` replicas to confirm each grant within `timeout`.
        public init(replicas: Int = 1, timeout: Duration = .milliseconds(100)) {
            self.replicas = replicas
            self.timeout = timeout
        }

        func validate(lease: Duration) throws {
            guard (1...1000).contains(replicas) else {
                throw RWLockError.invalidConfiguration("replicated grants need 1 to 1000 replicas, got \(replicas)")
            }
            guard timeout >= .milliseconds(1), timeout <= lease / 3 else {
                throw RWLockError.invalidConfiguration(
                    "the replicated grants' timeout must be from 1 ms to a third of the lease (\(lease / 3)), got \(timeout)")
            }
        }
    }
}

extension RWLock {
    /// Runs a script that grants or extends a lease (acquire, renew,
    /// downgrade) and says whether the result may be trusted: always, unless
    /// ``Options/replicatedGrants`` is set and fewer replicas confirmed it.
    ///
    /// - Returns: the reply, and nil when confirmed or a sentence saying how
    ///   many replicas confirmed out of how many required.
    func runGranting(_ script: LockScript, arguments: [[UInt8]]) async throws -> (reply: RESPValue, unconfirmed: String?) {
        // R3 for every grant and extension; R4 for new grants only, since a
        // restarted server refuses a renewal by itself (the lease is gone).
        let isAcquire = script == .acquireRead || script == .acquireWrite
        let requirements = ServerRequirements(
            allowEviction: options.allowEviction, quarantine: isAcquire ? options.quarantine : .zero)
        guard let required = options.replicatedGrants else {
            return (try await client.run(script, keys: keys, arguments: arguments, requirements: requirements), nil)
        }
        let (reply, confirmed) = try await client.runConfirmed(
            script, keys: keys, arguments: arguments, replicas: required.replicas, timeout: required.timeout,
            requirements: requirements)
        guard confirmed < required.replicas else { return (reply, nil) }
        return (reply, "\(confirmed) of the \(required.replicas) required replicas confirmed it within \(required.timeout)")
    }
}
