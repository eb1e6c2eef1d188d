extension RWLock {
    /// Which side waits when readers and writers both want the lock.
    public enum Preference: Sendable, Hashable {
        /// A waiting writer blocks new readers (the default): writers cannot
        /// starve, and readers already in keep their leases.
        case writers
        /// Readers get in whenever no writer holds the lock; a writer may
        /// wait as long as readers keep overlapping.
        case readers
    }

    /// How long a freshly (re)started Redis server is kept from granting
    /// (R4, the "delayed restart" of Redis's distributed-lock article, done by
    /// the client).
    ///
    /// A server restarted without persistence has forgotten every lease while
    /// their holders still run; a holder keeps trusting its lease for at most
    /// one lease, so waiting that long after the restart admits nobody
    /// beside it. Acquires wait the quarantine out (it counts against their
    /// timeout; the `…IfAvailable` forms return nil); renewals are not held
    /// back. The uptime is read from `INFO server` when a connection opens,
    /// which every restart forces.
    ///
    /// Every client of a lock must use a lease no longer than the quarantine,
    /// or set ``duration(_:)`` to the longest lease any of them uses.
    public enum RestartQuarantine: Sendable, Hashable {
        /// The lock's own ``Options/lease`` (the default).
        case lease
        /// A fixed time, at least the lock's lease, at most a day: the longest
        /// lease of any client of the lock.
        case duration(Duration)
        /// No quarantine: only for servers that persist every write before
        /// acknowledging it (`appendonly yes` with `appendfsync always`), so
        /// a restart forgets no lease.
        case disabled
    }

    /// How a lock leases, renews and waits.
    ///
    /// ```swift
    /// var options = RWLock.Options()
    /// options.lease = .seconds(5)
    /// options.tokenPrefix = "billing-worker"
    /// let lock = try RWLock(name: "ledger", client: client, options: options)
    /// ```
    public struct Options: Sendable {
        /// How long a lease lasts on the server unless renewed; at least
        /// 100 ms, at most 999 999 999 ms. Default 1 s. `withReadLock` and
        /// `withWriteLock` renew it every third of this while the body runs.
        /// A holder that crashes blocks others for at most this long.
        public var lease: Duration = .seconds(1)
        /// Writers first (the default) or readers first.
        public var preference: Preference = .writers
        /// The longest a single lease may be held in total, renewals
        /// included; `nil` (the default) for no limit. At least 100 ms. When
        /// reached, renewals stop extending the lease and a scoped body loses
        /// it (``RWLockError/leaseLost(_:)``).
        public var hardCap: Duration? = nil
        /// The longest a waiter sleeps between two looks at the lock (jittered
        /// by ±50 %), so a missed wake-up costs at most about this long.
        /// Positive, at most 1 minute. Default 50 ms.
        public var retryInterval: Duration = .milliseconds(50)
        /// How much sooner than the server's deadline the client stops
        /// trusting a lease, to absorb clock-rate differences between client
        /// and server (R1). At least zero, less than a third of ``lease``.
        /// Default 10 ms.
        public var driftMargin: Duration = .milliseconds(10)
        /// Prefixed to every lease token, so operators can tell whose lease
        /// they see in Redis (the Go library's application id). At most
        /// 100 bytes, no whitespace or control characters. Default empty.
        public var tokenPrefix: String = ""
        /// When set, a grant counts only after WAIT confirms it on this many
        /// replicas (see ``ReplicatedGrants``); `nil` (the default) trusts the
        /// master's reply alone.
        public var replicatedGrants: ReplicatedGrants? = nil
        /// R3: `false` (the default) refuses, with ``RWLockError/Kind/unsafeServer``,
        /// any server whose `maxmemory` is set with a `maxmemory-policy` other
        /// than `noeviction`: it may evict a live lease's keys (`volatile-ttl`
        /// evicts the lock's short-lived keys first) and grant the lock twice.
        /// Read from `INFO memory` once per connection. `true` accepts the
        /// risk.
        public var allowEviction: Bool = false
        /// R4: how long after a restart a server grants nothing (see
        /// ``RestartQuarantine``). Default ``RestartQuarantine/lease``.
        public var restartQuarantine: RestartQuarantine = .lease
        /// What every key and the channel of the lock start with: keys are
        /// `\(keyPrefix){name}:writer` and so on. Give each application (or
        /// tenant) a prefix of its own, and its Redis user the key and channel
        /// patterns `~\(keyPrefix)*` and `&\(keyPrefix)*` (`rwlock acl
        /// --prefix P` prints the rules). At most 100 bytes, without `{`,
        /// `}`, `*`, `?`, `[`, `]`, whitespace or control characters (they
        /// would break the cluster hash tag or the ACL pattern). Default
        /// `rwlock:`.
        public var keyPrefix: String = "rwlock:"
        /// Whether the lock's metrics carry its name as the `lock` dimension.
        /// Default false: every name is a time series of its own in the
        /// backend, which is costly for many or generated names.
        public var metricsIncludeLockName: Bool = false
        /// Whether the lock's spans carry its name as `rwlock.name`. Default
        /// false, for the same reason as ``metricsIncludeLockName``, and
        /// because a name may say more than a trace should.
        public var traceIncludeLockName: Bool = false

        /// Options with the given settings; every parameter has the default
        /// documented on its property.
        public init(
            lease: Duration = .seconds(1),
            preference: Preference = .writers,
            hardCap: Duration? = nil,
            retryInterval: Duration = .milliseconds(50),
            driftMargin: Duration = .milliseconds(10),
            tokenPrefix: String = "",
            replicatedGrants: ReplicatedGrants? = nil,
            allowEviction: Bool = false,
            restartQuarantine: RestartQuarantine = .lease
        ) {
            self.lease = lease
            self.preference = preference
            self.hardCap = hardCap
            self.retryInterval = retryInterval
            self.driftMargin = driftMargin
            self.tokenPrefix = tokenPrefix
            self.replicatedGrants = replicatedGrants
            self.allowEviction = allowEviction
            self.restartQuarantine = restartQuarantine
        }

        /// The rules for a key prefix, shared with `rwlock acl`.
        static func validate(keyPrefix: String) throws {
            guard !keyPrefix.isEmpty, keyPrefix.utf8.count <= 100,
                !keyPrefix.unicodeScalars.contains(where: { $0.isWhitespaceOrControl || "{}*?[]\\".unicodeScalars.contains($0) })
            else {
                throw RWLockError.invalidConfiguration(
                    "the key prefix \(keyPrefix.debugDescription) must be 1 to 100 bytes without '{', '}', '*', '?', '[', ']', "
                        + "'\\', whitespace or control characters")
            }
        }

        func validate() throws {
            func reject(_ why: String) -> RWLockError { .invalidConfiguration(why) }
            guard lease >= .milliseconds(100) else { throw reject("the lease must be at least 100 ms, got \(lease)") }
            guard lease.wholeMilliseconds <= 999_999_999 else {
                throw reject("the lease must be at most 999999999 ms, got \(lease)")
            }
            if let hardCap {
                guard hardCap >= .milliseconds(100), hardCap.wholeMilliseconds <= 9_999_999_999 else {
                    throw reject("the hard cap must be from 100 ms to 9999999999 ms, or nil for none; got \(hardCap)")
                }
            }
            guard retryInterval > .zero, retryInterval <= .seconds(60) else {
                throw reject("the retry interval must be positive and at most 60 s, got \(retryInterval)")
            }
            guard driftMargin >= .zero, driftMargin < lease / 3 else {
                throw reject("the drift margin must be at least zero and less than a third of the lease, got \(driftMargin)")
            }
            guard tokenPrefix.utf8.count <= 100, !tokenPrefix.unicodeScalars.contains(where: \.isWhitespaceOrControl) else {
                throw reject("the token prefix must be at most 100 bytes without whitespace or control characters")
            }
            try Self.validate(keyPrefix: keyPrefix)
            try replicatedGrants?.validate(lease: lease)
            if case .duration(let quarantine) = restartQuarantine {
                guard quarantine > .zero, quarantine <= .seconds(86_400) else {
                    throw reject("the restart quarantine must be positive and at most a day, got \(quarantine); use .disabled for none")
                }
                // Shorter than this lock's own lease, a restart could admit a
                // second holder beside one of this lock's.
                guard quarantine >= lease else {
                    throw reject("the restart quarantine (\(quarantine)) must be at least the lease (\(lease)); use .lease, or .disabled for servers that persist every write")
                }
            }
        }

        /// How long a restarted server is quarantined; zero for none.
        var quarantine: Duration {
            switch restartQuarantine {
            case .lease: lease
            case .duration(let duration): duration
            case .disabled: .zero
            }
        }

        /// The shortest validity left at grant for the lease to be worth
        /// using: the time to the first renewal (R1).
        var usefulValidity: Duration { min(lease, hardCap ?? lease) / 3 }

        /// R1: how long a grant of `grantedMilliseconds` (the server's answer
        /// to a request sent at `sent`) can be trusted on this process's
        /// monotonic clock: from the sending, never from the reply, less the
        /// drift margin.
        func validity(sent: ContinuousClock.Instant, grantedMilliseconds: Int64) -> ContinuousClock.Instant {
            sent + .milliseconds(grantedMilliseconds) - driftMargin
        }

        /// R1: whether a lease valid until `validUntil` still leaves useful
        /// time at `now`; if not, it is released unused.
        func isWorthUsing(validUntil: ContinuousClock.Instant, at now: ContinuousClock.Instant) -> Bool {
            validUntil - now >= usefulValidity
        }

        /// How long a waiting writer's intent lives unless refreshed: it is
        /// refreshed at every look (at most about 1.5 × retryInterval apart).
        var intent: Duration { max(lease, retryInterval * 4) }
    }
}
