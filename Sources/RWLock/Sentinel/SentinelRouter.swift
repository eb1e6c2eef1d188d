import Synchronization

/// Sends commands to the master that Redis Sentinel names, and follows it
/// when the sentinels fail it over.
///
/// The master is found by asking the sentinels in turn (`SENTINEL
/// get-master-addr-by-name`, the one that answered moved to the front) and
/// is used only once it says `ROLE master` itself: a sentinel names a new
/// master up to a second after the promotion, and a restarted one may name
/// the old master for a moment. It is looked for again:
///
/// - when a sentinel announces `+switch-master` for it (a thread of its own
///   stays subscribed to one sentinel at a time);
/// - when a connection to it cannot be opened (the master died): the
///   command did not run, and is retried on the master found next, with a
///   backoff (10 ms doubling to 500 ms), for up to the retry window;
/// - when it answers `READONLY` (it is a replica now): a replica refuses a
///   script at its first write, so nothing ran, and the command is retried
///   the same way.
///
/// A command whose connection broke *after* it was sent is never resent:
/// it may have run. The caller gets `.connection`, as with one server, and
/// the master is looked for again for the next command.
final class SentinelRouter: Sendable {
    struct Configuration: Sendable {
        var deployment: SentinelDeployment
        var maxConnections: Int
        var connectTimeout: Duration
        var commandTimeout: Duration
        /// How long a command that could not run keeps being retried while
        /// the master is failed over; longer than a failover takes.
        var retryWindow: Duration
        /// The client's threads, which the pools and the watcher join.
        var threads = ClientThreads()
    }

    /// Counters for tests and diagnostics.
    struct Statistics: Sendable, Equatable {
        /// Times a sentinel was asked where the master is and its answer
        /// checked with ROLE.
        var lookups = 0
        /// Times the master found was another node than the one before.
        var switches = 0
        /// Commands resent after a master that could not be reached or
        /// answered READONLY.
        var retries = 0
    }

    private struct State: ~Copyable {
        var master: NodeAddress?
        var pools: [NodeAddress: ConnectionPool] = [:]
        var sentinelPools: [Int: ConnectionPool] = [:]
        /// Sentinels by index into the configuration, the one that last
        /// answered first.
        var sentinelOrder: [Int]
        var lookup: Task<Void, Never>?
        var lastFailure: String?
        var watching = false
        var isShutdown = false
        var statistics = Statistics()
    }

    let configuration: Configuration
    private let state: Mutex<State>

    init(configuration: Configuration) {
        self.configuration = configuration
        state = Mutex(State(sentinelOrder: Array(configuration.deployment.sentinels.indices)))
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// The master as last found, nil before the first lookup or after a
    /// failure sent the router looking again.
    var master: NodeAddress? { state.withLock { $0.master } }

    /// The data nodes this router holds a connection pool for (tests).
    var pooledNodes: Set<NodeAddress> { state.withLock { Set($0.pools.keys) } }

    func shutdown() {
        let pools = state.withLock { state -> [ConnectionPool] in
            state.isShutdown = true
            return Array(state.pools.values) + Array(state.sentinelPools.values)
        }
        for pool in pools { pool.shutdown() }
    }

    /// Runs `commands` on the master, finding and following it as the
    /// type's documentation describes.
    ///
    /// - Throws: as ``ConnectionPool/run(_:isPipeline:requirements:discarded:)``,
    ///   with ``NotSent`` unwrapped; `.connection` when no master could be
    ///   found within the retry window.
    func run(
        _ commands: [[[UInt8]]], isPipeline: Bool, requirements: ServerRequirements? = nil, discarded: Bool = false
    ) async throws -> [RESPValue] {
        let clock = ContinuousClock()
        var giveUp = clock.now + configuration.retryWindow
        if let deadline = ClusterRouter.callerDeadline { giveUp = min(giveUp, deadline) }
        var backoff = Duration.milliseconds(10)
        while true {
            guard let node = await currentMaster() else {
                guard clock.now < giveUp else { throw unresolved().didNotRun }
                try await retry(after: &backoff, until: giveUp, forgetting: nil)
                continue
            }
            let replies: [RESPValue]
            do {
                replies = try await pool(for: node).run(commands, isPipeline: isPipeline, requirements: requirements, discarded: discarded)
            } catch let failure as NotSent {
                // Nothing ran. A master that cannot be reached may be failing
                // over; a login it refused is not worth another look.
                guard failure.error.kind == .connection, clock.now < giveUp else { throw failure.error.didNotRun }
                try await retry(after: &backoff, until: giveUp, forgetting: node)
                continue
            } catch let error as RWLockError where error.kind == .connection {
                // It may have run: never resend; look for the master again
                // before the next command.
                forget(node)
                scheduleLookup()
                throw error
            }
            // A replica now (the sentinels demoted it): it refused the
            // command before it changed anything.
            if replies.contains(where: { if case .error(let message) = $0 { message.hasPrefix("READONLY") } else { false } }) {
                guard clock.now < giveUp else {
                    throw RWLockError.connection(
                        "\(node) is a replica now and no master was found in its place within \(configuration.retryWindow)"
                    ).didNotRun
                }
                try await retry(after: &backoff, until: giveUp, forgetting: node)
                continue
            }
            return replies
        }
    }

    /// Where ``Subscriber`` listens for the locks' messages: the master (a
    /// PUBLISH on it reaches its replicas' subscribers too, but a failover
    /// disconnects those). Before any master is known, the first sentinel's
    /// address stands in; the subscriber then fails and asks again.
    func subscriptionEndpoint(attempt: Int) -> RedisEndpoint {
        if attempt > 0 { scheduleLookup() }
        if let master = state.withLock({ $0.master }) { return configuration.deployment.endpoint(for: master) }
        let sentinel = configuration.deployment.sentinels[attempt % configuration.deployment.sentinels.count]
        guard case .tcp(let host, let port) = sentinel.address else { return sentinel }
        return configuration.deployment.endpoint(for: NodeAddress(host: host, port: port))
    }

    // MARK: - Finding the master

    /// The master, looked for first when none is known.
    private func currentMaster() async -> NodeAddress? {
        if let master = state.withLock({ $0.master }) { return master }
        await lookUp()
        return state.withLock { $0.master }
    }

    private func retry(after backoff: inout Duration, until giveUp: ContinuousClock.Instant, forgetting node: NodeAddress?) async throws {
        if let node { forget(node) }
        state.withLock { $0.statistics.retries += 1 }
        try await Task.sleep(for: min(backoff, max(giveUp - .now, .zero)))
        backoff = min(backoff * 2, .milliseconds(500))
        await lookUp()
    }

    /// Forgets `node` as the master, unless another was found meanwhile.
    private func forget(_ node: NodeAddress) {
        state.withLock { state in
            if state.master == node { state.master = nil }
        }
    }

    /// The sentinels announced a new master: look again (the lookup checks
    /// that it says it is one).
    func masterSwitched(to node: NodeAddress) {
        state.withLock { state in
            if state.master != node { state.master = nil }
        }
        scheduleLookup()
    }

    private func scheduleLookup() {
        Task { await self.lookUp() }
    }

    /// Asks the sentinels, one at a time, until one names a node that says
    /// it is the master; concurrent callers share one lookup.
    private func lookUp() async {
        let task = state.withLock { state -> Task<Void, Never>? in
            if state.isShutdown { return nil }
            if let running = state.lookup { return running }
            let task = Task { await self.findMaster() }
            state.lookup = task
            return task
        }
        await task?.value
    }

    private func findMaster() async {
        defer { state.withLock { $0.lookup = nil } }
        let order = state.withLock { $0.sentinelOrder }
        let name = configuration.deployment.masterName
        var failures: [String] = []
        for index in order {
            let sentinel = configuration.deployment.sentinels[index]
            do {
                state.withLock { $0.statistics.lookups += 1 }
                let reply = try await sentinelPool(index).run(
                    [[Array("SENTINEL".utf8), Array("get-master-addr-by-name".utf8), Array(name.utf8)]], isPipeline: false)
                guard let node = Self.masterAddress(reply.first) else {
                    failures.append("\(sentinel) answered \(reply.first.map(String.init(describing:)) ?? "nothing") for master \(name)")
                    continue
                }
                let role = try await pool(for: node).run([[Array("ROLE".utf8)]], isPipeline: false)
                guard case .array(let fields)? = role.first, fields.first?.string == "master" else {
                    failures.append("\(sentinel) names \(node), which says it is \(role.first.map(String.init(describing:)) ?? "nothing"), not the master")
                    continue
                }
                install(node, answeredBy: index)
                return
            } catch let failure as NotSent {
                failures.append(failure.error.description)
            } catch {
                failures.append(String(describing: error))
            }
        }
        state.withLock { $0.lastFailure = failures.joined(separator: "; ") }
    }

    private func install(_ node: NodeAddress, answeredBy sentinel: Int) {
        let retired = state.withLock { state -> [ConnectionPool] in
            if state.master != node, state.statistics.lookups > 1 || state.master != nil { state.statistics.switches += 1 }
            state.master = node
            state.lastFailure = nil
            state.sentinelOrder.removeAll { $0 == sentinel }
            state.sentinelOrder.insert(sentinel, at: 0)
            // Pools of other nodes (the old master, a replica a stale answer
            // named) go once idle: nothing more is sent to them.
            var retired: [ConnectionPool] = []
            for (other, pool) in state.pools where other != node && pool.load == (0, 0) {
                state.pools[other] = nil
                retired.append(pool)
            }
            return retired
        }
        for pool in retired { pool.shutdown() }
        startWatching()
    }

    /// `[host, port]` from get-master-addr-by-name (the port a bulk string).
    static func masterAddress(_ reply: RESPValue?) -> NodeAddress? {
        guard case .array(let fields)? = reply, fields.count == 2, let host = fields[0].string,
            let port = fields[1].string.flatMap({ Int($0) }) ?? { if case .integer(let port) = fields[1] { Int(port) } else { nil } }(),
            (1...65535).contains(port)
        else { return nil }
        return NodeAddress(host: host, port: port)
    }

    private func unresolved() -> RWLockError {
        let failure = state.withLock { $0.lastFailure }
        return .connection(
            "no sentinel named a reachable master \(configuration.deployment.masterName) (sentinels: "
                + configuration.deployment.sentinels.map(\.description).joined(separator: ", ") + ")"
                + (failure.map { "; \($0)" } ?? ""))
    }

    // MARK: - Pools

    private func pool(for node: NodeAddress) throws -> ConnectionPool {
        try state.withLock { state in
            if state.isShutdown { throw RWLockError.shutdown }
            if let pool = state.pools[node] { return pool }
            let pool = ConnectionPool(
                configuration: .init(
                    endpoint: configuration.deployment.endpoint(for: node), maxConnections: configuration.maxConnections,
                    connectTimeout: configuration.connectTimeout, commandTimeout: configuration.commandTimeout,
                    threads: configuration.threads))
            state.pools[node] = pool
            return pool
        }
    }

    /// One connection per sentinel, with short timeouts: a sentinel that is
    /// stopped must not hold the lookup up for long.
    private func sentinelPool(_ index: Int) throws -> ConnectionPool {
        try state.withLock { state in
            if state.isShutdown { throw RWLockError.shutdown }
            if let pool = state.sentinelPools[index] { return pool }
            let timeout = min(configuration.connectTimeout, .milliseconds(500))
            let pool = ConnectionPool(
                configuration: .init(
                    endpoint: configuration.deployment.sentinels[index], maxConnections: 1,
                    connectTimeout: timeout, commandTimeout: min(configuration.commandTimeout, .seconds(1)),
                    threads: configuration.threads))
            state.sentinelPools[index] = pool
            return pool
        }
    }

    // MARK: - +switch-master

    /// Starts the thread that listens for `+switch-master`, once.
    private func startWatching() {
        let start = state.withLock { state -> Bool in
            defer { state.watching = true }
            return !state.watching && !state.isShutdown
        }
        guard start else { return }
        SentinelWatcher(router: self).start()
    }

    /// The sentinels in the order to try them, for the watcher.
    var sentinelsInOrder: [RedisEndpoint] {
        state.withLock { state in state.sentinelOrder.map { configuration.deployment.sentinels[$0] } }
    }

    var isShutdown: Bool { state.withLock { $0.isShutdown } }
}

extension RWLockError {
    /// This error, marked as the failure of a command that never ran.
    var didNotRun: RWLockError {
        var marked = self
        marked.commandDidNotRun = true
        return marked
    }
}
