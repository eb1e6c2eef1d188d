import Synchronization

/// Sends commands to the Redis Cluster node that serves their slot, and
/// follows the cluster when it changes.
///
/// It keeps a ``SlotMap`` from `CLUSTER SLOTS` and one ``ConnectionPool`` per
/// node it has talked to (each with the client's `maxConnections` worker
/// threads at most, started lazily), and handles what a node may answer
/// instead of running the command:
///
/// - `MOVED`: the slot has a new owner; the map is corrected at once (and
///   refreshed in full, in the background) and the command resent there.
/// - `ASK`: one key of a slot being migrated is on the importing node; the
///   command is resent there once, each command preceded by `ASKING`, and the
///   map is left alone.
/// - `TRYAGAIN` / `CLUSTERDOWN`: the command did not run; it is resent after
///   an exponential backoff (10 ms doubling to 500 ms) for up to the retry
///   window, refreshing the map after CLUSTERDOWN.
/// - A connection that cannot be opened (the node is down, a failover is
///   under way): the command did not run either; the map is refreshed from
///   the other nodes and the command retried with the same backoff, so a
///   lock rides out a failover shorter than the retry window.
///
/// A command whose connection broke *after* it was sent is never resent: it
/// may have run, and a lock operation applied twice is not the same
/// operation. The caller gets `.connection`, as with a single server, and the
/// map is refreshed for the next command.
///
/// Pipelines go to one node as a whole. A redirect of any command in it
/// resends the whole pipeline; that is only safe because the package's
/// pipelines are one keyed command plus keyless, repeatable ones
/// (`SCRIPT LOAD`, `WAIT`, `ASKING`).
final class ClusterRouter: Sendable {
    struct Configuration: Sendable {
        /// The nodes to ask for the first slot map; their login is used for
        /// every node.
        var seeds: [RedisEndpoint]
        var maxConnectionsPerNode: Int
        var connectTimeout: Duration
        var commandTimeout: Duration
        /// How long a command that could not run (node down, TRYAGAIN,
        /// CLUSTERDOWN) keeps being retried before its error is returned.
        var retryWindow: Duration
        /// The client's threads, which every node's pool joins.
        var threads = ClientThreads()
    }

    /// Counters for tests and diagnostics.
    struct Statistics: Sendable, Equatable {
        var mapRefreshes = 0
        var moved = 0
        var asked = 0
        /// Commands resent after TRYAGAIN, CLUSTERDOWN or a node that could
        /// not be reached.
        var retries = 0
    }

    private struct State: ~Copyable {
        var map: SlotMap?
        var pools: [NodeAddress: ConnectionPool] = [:]
        /// The refresh under way, which every caller needing one joins.
        var refresh: Task<Void, Never>?
        /// Why the last refresh found no usable map, for error messages.
        var lastRefreshFailure: String?
        var isShutdown = false
        var statistics = Statistics()
    }

    /// The most redirects one command follows: a slot moves once per
    /// resharding step, so more means the cluster is misconfigured.
    static let redirectLimit = 16

    /// The latest a caller can use an answer (an acquire's timeout): a
    /// command that could not run is retried until this or the retry window
    /// ends, whichever is first. Set with `$callerDeadline.withValue`.
    @TaskLocal static var callerDeadline: ContinuousClock.Instant? = nil

    let configuration: Configuration
    /// The seeds' TCP addresses (a cluster is reached over TCP only).
    private let seedNodes: [NodeAddress]
    private let state = Mutex(State())

    init(configuration: Configuration) {
        self.configuration = configuration
        seedNodes = configuration.seeds.compactMap { seed in
            guard case .tcp(let host, let port) = seed.address else { return nil }
            return NodeAddress(host: host, port: port)
        }
        precondition(!seedNodes.isEmpty, "a Redis Cluster is reached over TCP: give at least one host:port seed")
    }

    var statistics: Statistics { state.withLock { $0.statistics } }

    /// The slot map as last learned, nil before the first refresh.
    var slotMap: SlotMap? { state.withLock { $0.map } }

    /// Stops every node's pool (see ``ConnectionPool/shutdown()``).
    func shutdown() {
        let pools = state.withLock { state -> [ConnectionPool] in
            state.isShutdown = true
            return Array(state.pools.values)
        }
        for pool in pools { pool.shutdown() }
    }

    /// Queues `commands` inside MULTI on the master serving `slot` and
    /// discards them (``HiredisConnection/queueAndDiscard(_:)``), once, with
    /// no redirect followed: a permission probe. Nil when no master is known
    /// for the slot yet.
    func queueAndDiscard(_ commands: [[[UInt8]]], slot: HashSlot) async throws -> [RESPValue]? {
        guard let node = await master(for: slot) else { return nil }
        do {
            return try await pool(for: node).run(commands, isPipeline: true, discarded: true)
        } catch let failure as NotSent {
            throw failure.error
        }
    }

    /// Runs `commands` on the master serving `slot` (any master when `slot`
    /// is nil: keyless commands), following redirects and retrying commands
    /// that did not run, as the type's documentation describes.
    ///
    /// - Throws: as ``ConnectionPool/run(_:isPipeline:)``, with ``NotSent``
    ///   unwrapped; `.protocolError` after too many redirects.
    func run(
        _ commands: [[[UInt8]]], isPipeline: Bool, slot: HashSlot?, requirements: ServerRequirements? = nil
    ) async throws -> [RESPValue] {
        let clock = ContinuousClock()
        var giveUp = clock.now + configuration.retryWindow
        if let deadline = Self.callerDeadline { giveUp = min(giveUp, deadline) }
        var backoff = Duration.milliseconds(10)
        // Redirects followed since the last backoff: a bounded number, so
        // nodes that disagree cannot bounce a command forever.
        var redirects = 0
        var askTarget: NodeAddress? = nil
        while true {
            let node: NodeAddress
            if let askTarget {
                node = askTarget
            } else if let owner = await master(for: slot) {
                node = owner
            } else {
                guard clock.now < giveUp else { throw unserved(slot).didNotRun }
                count(\.retries)
                try await pause(&backoff, until: giveUp)
                continue
            }
            let asking = askTarget != nil
            askTarget = nil
            var replies: [RESPValue]
            do {
                replies = try await pool(for: node).run(
                    asking ? commands.flatMap { [[Array("ASKING".utf8)], $0] } : commands,
                    isPipeline: isPipeline || asking, requirements: requirements)
            } catch let failure as NotSent {
                // Nothing ran. A node that is down or unreachable (a failover
                // under way) is worth another look at the cluster; a login
                // the node refused is not.
                guard failure.error.kind == .connection, clock.now < giveUp else { throw failure.error.didNotRun }
                count(\.retries)
                try await pause(&backoff, until: giveUp)
                await refreshMap(force: true)
                continue
            } catch let error as RWLockError where error.kind == .shutdown && !state.withLock({ $0.isShutdown }) {
                // The node's pool was retired between lookup and enqueue
                // (the node left the map): the command was never queued.
                redirects += 1
                guard redirects <= Self.redirectLimit else { throw error }
                continue
            } catch let error as RWLockError where error.kind == .connection {
                // It may have run: never resend, but do not send the next
                // command to a node that may be gone without looking again.
                scheduleRefresh()
                throw error
            }
            if asking {
                // Drop ASKING's +OK before each command's reply.
                replies = replies.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
            }
            guard let redirect = replies.lazy.compactMap({ ClusterRedirect(reply: $0, from: node) }).first else {
                return replies
            }
            switch redirect {
            case .moved(let movedSlot, let owner):
                redirects += 1
                guard redirects <= Self.redirectLimit else { throw tooManyRedirects(redirect) }
                state.withLock { state in
                    state.statistics.moved += 1
                    state.map?.assign(movedSlot, to: owner)
                }
                if redirects == 1 {
                    scheduleRefresh()
                } else {
                    // Moved again: the nodes disagree (a failover or a
                    // resharding in progress). Let them settle, then ask.
                    try await pause(&backoff, until: max(giveUp, clock.now + .milliseconds(10)))
                    await refreshMap(force: true)
                }
            case .ask(_, let importing):
                redirects += 1
                guard redirects <= Self.redirectLimit else { throw tooManyRedirects(redirect) }
                count(\.asked)
                askTarget = importing
            case .tryAgain, .clusterDown:
                // The command did not run; hand the reply over if time is up.
                guard clock.now < giveUp else { return replies }
                count(\.retries)
                redirects = 0
                try await pause(&backoff, until: giveUp)
                if redirect == .clusterDown { await refreshMap(force: true) }
            }
        }
    }

    /// A node for ``Subscriber`` to listen on, rotating with `attempt` over
    /// every node the map names (replicas included: PUBLISH reaches every
    /// node of a cluster), or over the seeds before the first map.
    func subscriptionEndpoint(attempt: Int) -> RedisEndpoint {
        var nodes = state.withLock { $0.map?.nodes ?? [] }
        if nodes.isEmpty { nodes = seedNodes }
        return endpoint(for: nodes[attempt % nodes.count])
    }

    // MARK: - Slot map

    /// The master serving `slot` (any master for nil), refreshing the map
    /// once when it is missing or names none; nil when there is still none.
    private func master(for slot: HashSlot?) async -> NodeAddress? {
        func lookUp() -> (known: Bool, owner: NodeAddress?) {
            state.withLock { state in
                guard let map = state.map else { return (false, nil) }
                return (true, slot.map { map[$0] } ?? map.masters.first)
            }
        }
        let (known, owner) = lookUp()
        if let owner { return owner }
        await refreshMap(force: known)
        return lookUp().owner
    }

    /// The error when no node serves `slot` by the end of the retry window.
    private func unserved(_ slot: HashSlot?) -> RWLockError {
        let (map, failure) = state.withLock { ($0.map, $0.lastRefreshFailure) }
        let why = failure.map { " (last attempt: \($0))" } ?? ""
        if let map {
            return .connection(
                "no node of the cluster serves slot \(slot.map(String.init(describing:)) ?? "any")"
                    + " (\(map.coveredSlots) of \(HashSlot.count) slots are served)\(why)")
        }
        return .connection(
            "cannot learn the cluster's slot map from any node (seeds: "
                + configuration.seeds.map(\.description).joined(separator: ", ") + ")\(why)")
    }

    /// Starts a refresh in the background unless one is under way.
    private func scheduleRefresh() {
        Task { await refreshMap(force: true) }
    }

    /// Asks the known nodes, then the seeds, for `CLUSTER SLOTS` and installs
    /// the first usable answer. Concurrent callers share one refresh. Without
    /// `force`, does nothing when a map is already known.
    private func refreshMap(force: Bool) async {
        let task = state.withLock { state -> Task<Void, Never>? in
            if state.isShutdown || (!force && state.map != nil) { return nil }
            if let running = state.refresh { return running }
            let task = Task { await self.fetchMap() }
            state.refresh = task
            return task
        }
        await task?.value
    }

    private func fetchMap() async {
        defer { state.withLock { $0.refresh = nil } }
        let known = state.withLock { $0.map?.nodes ?? [] }
        var asked: Set<NodeAddress> = []
        var failure: String? = nil
        for node in known + seedNodes where asked.insert(node).inserted {
            do {
                let replies = try await pool(for: node).run([[Array("CLUSTER".utf8), Array("SLOTS".utf8)]], isPipeline: false)
                if case .error(let message)? = replies.first {
                    // ERR This instance has cluster support disabled, NOAUTH...
                    failure = "\(node) answered CLUSTER SLOTS with \"\(message)\""
                    continue
                }
                let map = try SlotMap(clusterSlots: replies.first ?? .null, askedHost: node.host)
                guard !map.masters.isEmpty else {
                    failure = "\(node) knows no master serving any slot"
                    continue
                }
                let retired = state.withLock { state in
                    state.map = map
                    state.lastRefreshFailure = nil
                    state.statistics.mapRefreshes += 1
                    return retireIdlePools(&state, keeping: Set(map.nodes))
                }
                for pool in retired { pool.shutdown() }
                return
            } catch let notSent as NotSent {
                failure = notSent.error.description
            } catch {
                failure = String(describing: error)
            }
        }
        state.withLock { $0.lastRefreshFailure = failure }
    }

    // MARK: - Nodes

    /// Removes the pools of nodes the cluster no longer names (a failed
    /// master, a node removed), so a long-lived client does not keep their
    /// threads; a pool with work queued or running is left for the next
    /// refresh. Returns the pools to shut down outside the lock.
    private func retireIdlePools(_ state: inout State, keeping nodes: Set<NodeAddress>) -> [ConnectionPool] {
        var retired: [ConnectionPool] = []
        for (node, pool) in state.pools where !nodes.contains(node) && pool.load == (0, 0) {
            state.pools[node] = nil
            retired.append(pool)
        }
        return retired
    }

    /// The nodes this router holds a connection pool for (tests, diagnostics).
    var pooledNodes: Set<NodeAddress> { state.withLock { Set($0.pools.keys) } }

    private func pool(for node: NodeAddress) throws -> ConnectionPool {
        try state.withLock { state in
            if state.isShutdown { throw RWLockError.shutdown }
            if let pool = state.pools[node] { return pool }
            let pool = ConnectionPool(
                configuration: .init(
                    endpoint: endpoint(for: node),
                    maxConnections: configuration.maxConnectionsPerNode,
                    connectTimeout: configuration.connectTimeout,
                    commandTimeout: configuration.commandTimeout, threads: configuration.threads))
            state.pools[node] = pool
            return pool
        }
    }

    /// The node's endpoint with the seeds' login; a cluster has database 0 only.
    private func endpoint(for node: NodeAddress) -> RedisEndpoint {
        let login = configuration.seeds[0]
        return RedisEndpoint(
            address: .tcp(host: node.host, port: node.port), username: login.username, password: login.password, tls: login.tls)
    }

    private func pause(_ backoff: inout Duration, until giveUp: ContinuousClock.Instant) async throws {
        let now = ContinuousClock.now
        try await Task.sleep(for: min(backoff, max(giveUp - now, .zero)))
        backoff = min(backoff * 2, .milliseconds(500))
    }

    private func count(_ counter: WritableKeyPath<Statistics, Int>) {
        state.withLock { $0.statistics[keyPath: counter] += 1 }
    }

    private func tooManyRedirects(_ last: ClusterRedirect) -> RWLockError {
        .protocolError("the cluster redirected one command more than \(Self.redirectLimit) times (last: \(last)); its slot map is inconsistent")
    }
}
