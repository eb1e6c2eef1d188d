import Synchronization

/// The connections to one Redis server or one Redis Cluster, shared by
/// every lock that uses them.
///
/// Create one per deployment and keep it for the life of the program:
///
/// ```swift
/// let client = try RedisClient(url: nil)   // REDIS_URL, or redis://127.0.0.1:6379
/// let cluster = try RedisClient(url: "redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
/// ```
///
/// Behind it is a pool of up to `maxConnections` connections (on a cluster,
/// per node), each driven by its own thread, so Redis round trips never
/// block Swift's cooperative thread pool. Callers beyond `maxConnections`
/// wait their turn in a queue; threads and connections are started lazily,
/// and a connection the server closed while idle is replaced before use. A
/// command whose connection broke after it was sent throws ``RWLockError``
/// of kind `.connection`, because it may or may not have run; it is never
/// resent.
///
/// On a cluster, each lock's commands go to the master serving the slot of
/// its `{name}`; MOVED and ASK redirects are followed, and commands that
/// certainly did not run (TRYAGAIN, CLUSTERDOWN, a node that cannot be
/// reached during a failover) are retried with backoff for up to
/// `clusterRetryWindow`. Lock code is the same for both.
///
/// Lock waiters share one more connection and thread, started at the first
/// wait, that subscribes to the locks' release channels.
///
/// Call ``shutdown()`` when done; dropping the last reference does the same.
public final class RedisClient: Sendable {
    /// The server or cluster this client talks to.
    public let deployment: RedisDeployment
    /// The server this client talks to; for a cluster, its first seed
    /// node; behind Sentinel, the master's login at the first sentinel's
    /// address (the master itself moves).
    public var endpoint: RedisEndpoint {
        switch deployment.kind {
        case .server(let endpoint): endpoint
        case .cluster(let seeds): seeds[0]
        case .sentinel(let sentinel):
            RedisEndpoint(address: sentinel.sentinels[0].address, username: sentinel.username, password: sentinel.password,
                          database: sentinel.database, tls: sentinel.tls)
        }
    }
    /// The most connections (and worker threads) this client opens to each
    /// server.
    public let maxConnections: Int
    /// How long one command may wait for its reply.
    public let commandTimeout: Duration

    /// How commands reach Redis.
    enum Transport: Sendable {
        case server(ConnectionPool)
        case cluster(ClusterRouter)
        case sentinel(SentinelRouter)
    }

    let transport: Transport
    /// The one pub/sub connection that wakes this client's lock waiters.
    let subscriber: Subscriber
    /// Key prefixes whose permissions this client has checked (R6).
    let permissionsChecked = Mutex<Set<String>>([])
    /// This client's waiting and holding writers, per lock: readers behind
    /// them wait without asking the server.
    let localWriters: LocalWriters

    /// Creates a client; nothing connects until the first command.
    ///
    /// - Parameters:
    ///   - deployment: the server or cluster, and the login.
    ///   - maxConnections: pool size per server, at least 1. Each connection
    ///     has a dedicated thread.
    ///   - connectTimeout: how long opening a connection may take (positive).
    ///   - commandTimeout: how long one command may wait for its reply
    ///     (positive). A connection that times out is discarded.
    ///   - clusterRetryWindow: on a cluster or behind Sentinel, how long a
    ///     command that could not run (its node unreachable, TRYAGAIN,
    ///     CLUSTERDOWN, the slot map or the master not yet known, a master
    ///     that turned replica) keeps being retried; make it longer than a
    ///     failover takes (about the cluster's `cluster-node-timeout` plus one
    ///     second; Sentinel's `down-after-milliseconds` plus a few seconds).
    ///     An acquire's own timeout cuts it short. Ignored for one server.
    ///     A cluster's seeds must be TCP endpoints.
    public convenience init(
        deployment: RedisDeployment,
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2),
        clusterRetryWindow: Duration = .seconds(10)
    ) {
        self.init(
            deployment: deployment, maxConnections: maxConnections, connectTimeout: connectTimeout,
            commandTimeout: commandTimeout, clusterRetryWindow: clusterRetryWindow, subscriberEndpoint: nil)
    }

    /// The designated initializer; `subscriberEndpoint`, for tests, sends the
    /// waiters' pub/sub connection of a single-server client elsewhere (a
    /// slow proxy in front of the same server).
    init(
        deployment: RedisDeployment,
        maxConnections: Int,
        connectTimeout: Duration,
        commandTimeout: Duration,
        clusterRetryWindow: Duration,
        subscriberEndpoint: RedisEndpoint?
    ) {
        precondition(maxConnections >= 1, "RedisClient needs maxConnections >= 1, got \(maxConnections)")
        precondition(connectTimeout > .zero, "RedisClient needs a positive connectTimeout, got \(connectTimeout)")
        precondition(commandTimeout > .zero, "RedisClient needs a positive commandTimeout, got \(commandTimeout)")
        precondition(clusterRetryWindow >= .zero, "RedisClient needs a clusterRetryWindow >= 0, got \(clusterRetryWindow)")
        self.deployment = deployment
        self.maxConnections = maxConnections
        self.commandTimeout = commandTimeout
        switch deployment.kind {
        case .server(let endpoint):
            self.transport = .server(
                ConnectionPool(
                    configuration: .init(
                        endpoint: endpoint, maxConnections: maxConnections,
                        connectTimeout: connectTimeout, commandTimeout: commandTimeout)))
            let subscribeAt = subscriberEndpoint ?? endpoint
            self.subscriber = Subscriber(endpoint: { _ in subscribeAt }, connectTimeout: connectTimeout)
        case .cluster(let seeds):
            precondition(!seeds.isEmpty, "a cluster RedisClient needs at least one seed node")
            let router = ClusterRouter(
                configuration: .init(
                    seeds: seeds, maxConnectionsPerNode: maxConnections, connectTimeout: connectTimeout,
                    commandTimeout: commandTimeout, retryWindow: clusterRetryWindow))
            self.transport = .cluster(router)
            self.subscriber = Subscriber(endpoint: { router.subscriptionEndpoint(attempt: $0) }, connectTimeout: connectTimeout)
        case .sentinel(let sentinel):
            precondition(!sentinel.sentinels.isEmpty, "a Sentinel RedisClient needs at least one sentinel")
            let router = SentinelRouter(
                configuration: .init(
                    deployment: sentinel, maxConnections: maxConnections, connectTimeout: connectTimeout,
                    commandTimeout: commandTimeout, retryWindow: clusterRetryWindow))
            self.transport = .sentinel(router)
            self.subscriber = Subscriber(endpoint: { router.subscriptionEndpoint(attempt: $0) }, connectTimeout: connectTimeout)
        }
        let subscriber = self.subscriber
        self.localWriters = LocalWriters { subscriber.announce($0) }
    }

    /// Creates a client for one server; nothing connects until the first
    /// command. Parameters as ``init(deployment:maxConnections:connectTimeout:commandTimeout:clusterRetryWindow:)``.
    public convenience init(
        endpoint: RedisEndpoint,
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) {
        self.init(
            deployment: .server(endpoint), maxConnections: maxConnections,
            connectTimeout: connectTimeout, commandTimeout: commandTimeout)
    }

    /// Creates a client from a server or cluster URL (see ``RedisEndpoint``
    /// and ``RedisDeployment`` for the forms), or from the `REDIS_URL`
    /// environment variable when `url` is nil.
    ///
    /// - Parameters:
    ///   - url: the URL; nil for `REDIS_URL`, else `redis://127.0.0.1:6379`.
    ///   - tls: how to speak TLS (CA, client certificate, server name) to a
    ///     `rediss://`, `rediss+cluster://` or `rediss+sentinel://` URL; nil
    ///     for the default, which verifies the server against the system's
    ///     trust store.
    ///   - maxConnections: pool size per server, at least 1.
    ///   - connectTimeout: how long opening a connection may take (positive).
    ///   - commandTimeout: how long one command may wait for its reply.
    ///   - clusterRetryWindow: on a cluster or behind Sentinel, how long a
    ///     command that could not run keeps being retried.
    /// - Throws: ``RWLockError`` of kind `.invalidConfiguration` for a bad URL,
    ///   or TLS settings given with a URL that does not use TLS.
    public convenience init(
        url: String?,
        tls: TLSConfiguration? = nil,
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2),
        clusterRetryWindow: Duration = .seconds(10)
    ) throws {
        var deployment = try url.map(RedisDeployment.init(url:)) ?? RedisDeployment.fromEnvironment()
        if let tls { deployment = try deployment.usingTLS(tls) }
        self.init(
            deployment: deployment,
            maxConnections: maxConnections,
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout,
            clusterRetryWindow: clusterRetryWindow
        )
    }

    /// The connection pool of a single-server client (tests and diagnostics).
    var pool: ConnectionPool {
        guard case .server(let pool) = transport else {
            preconditionFailure("a cluster client has one pool per node; use its router")
        }
        return pool
    }

    /// The router of a Sentinel client, nil otherwise.
    var sentinelRouter: SentinelRouter? {
        guard case .sentinel(let router) = transport else { return nil }
        return router
    }

    /// The router of a cluster client, nil for a single server.
    var router: ClusterRouter? {
        guard case .cluster(let router) = transport else { return nil }
        return router
    }

    deinit {
        shutdown()
    }

    /// Fails every queued command with ``RWLockError/shutdown``, lets running
    /// commands finish, then closes every connection and ends the worker
    /// threads. Later commands fail at once. Safe to call more than once.
    public func shutdown() {
        switch transport {
        case .server(let pool): pool.shutdown()
        case .cluster(let router): router.shutdown()
        case .sentinel(let router): router.shutdown()
        }
        subscriber.shutdown()
    }

    /// Sends one command (binary-safe arguments) and returns its reply. An
    /// error reply is returned as ``RESPValue/error(_:)``, not thrown.
    ///
    /// - Parameter routingKey: on a cluster, a key the command touches: it
    ///   goes to the master serving that key's slot. nil for a keyless
    ///   command, which goes to one fixed master. Ignored for one server.
    /// - Throws: ``RWLockError`` (`.connection`, `.protocolError`,
    ///   `.shutdown`, `.invalidConfiguration` for an empty command) or
    ///   `CancellationError` if the task was cancelled before the command
    ///   was sent.
    func send(_ args: [[UInt8]], routingKey: [UInt8]? = nil, requirements: ServerRequirements? = nil) async throws -> RESPValue {
        guard !args.isEmpty else {
            throw RWLockError.invalidConfiguration("a Redis command needs at least one argument")
        }
        let replies = try await execute([args], isPipeline: false, routingKey: routingKey, requirements: requirements)
        guard let reply = replies.first else { throw RWLockError.protocolError("no reply to \(args.count)-argument command") }
        return reply
    }

    /// ``send(_:routingKey:)`` with text arguments, encoded as UTF-8.
    func send(_ words: [String], routingKey: String? = nil) async throws -> RESPValue {
        try await send(words.map { Array($0.utf8) }, routingKey: routingKey.map { Array($0.utf8) })
    }

    /// Sends several commands in one round trip on one connection and
    /// returns their replies in order. On a cluster they all go to the node
    /// of `routingKey`.
    ///
    /// - Throws: as ``send(_:routingKey:)``; on a connection error no reply
    ///   is returned, and any of the commands may or may not have run.
    func pipeline(
        _ commands: [[[UInt8]]], routingKey: [UInt8]? = nil, requirements: ServerRequirements? = nil
    ) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        guard commands.allSatisfy({ !$0.isEmpty }) else {
            throw RWLockError.invalidConfiguration("every command in a pipeline needs at least one argument")
        }
        return try await execute(commands, isPipeline: true, routingKey: routingKey, requirements: requirements)
    }

    /// Queues `commands` inside MULTI on the server (on a cluster, the master
    /// of `routingKey`'s slot) and discards them: MULTI's reply, then each
    /// command's queuing reply. Nil on a cluster whose slot map is not known
    /// yet. For the permission check (R6): nothing runs.
    func queueAndDiscard(_ commands: [[[UInt8]]], routingKey: [UInt8]) async throws -> [RESPValue]? {
        switch transport {
        case .server(let pool):
            do {
                return try await pool.run(commands, isPipeline: true, discarded: true)
            } catch let failure as NotSent {
                throw failure.error
            }
        case .cluster(let router):
            return try await router.queueAndDiscard(commands, slot: HashSlot(key: routingKey))
        case .sentinel(let router):
            return try await router.run(commands, isPipeline: true, discarded: true)
        }
    }

    /// Runs `operation` so that the calling task's cancellation cannot stop
    /// its commands: a release or a withdrawal must reach the server however
    /// its caller ended. On one server the pool simply ignores the task's
    /// cancellation. On a cluster, whose retries sleep (and a cancelled
    /// task's sleep ends at once), `operation` runs in a task of its own;
    /// one server avoids that task because starting and awaiting it costs
    /// two thread hand-offs, most of an uncontended release's client time.
    func ignoringCancellation<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        switch transport {
        case .server:
            return try await ConnectionPool.$cancellable.withValue(false) { try await operation() }
        case .cluster, .sentinel:
            return try await Task { try await operation() }.value
        }
    }

    private func execute(
        _ commands: [[[UInt8]]], isPipeline: Bool, routingKey: [UInt8]?, requirements: ServerRequirements?
    ) async throws -> [RESPValue] {
        switch transport {
        case .server(let pool):
            do {
                return try await pool.run(commands, isPipeline: isPipeline, requirements: requirements)
            } catch let failure as NotSent {
                var error = failure.error
                error.commandDidNotRun = true
                throw error
            }
        case .cluster(let router):
            return try await router.run(
                commands, isPipeline: isPipeline, slot: routingKey.map(HashSlot.init(key:)), requirements: requirements)
        case .sentinel(let router):
            return try await router.run(commands, isPipeline: isPipeline, requirements: requirements)
        }
    }
}
