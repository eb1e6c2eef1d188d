import Synchronization

/// The connections to one Redis server or one Redis Cluster, shared by
/// every lock that uses them.
///
/// Create one per deployment and keep it for the life of the program:
///
/// ```swift
/// let client = try RWLockClient(url: nil)   // REDIS_URL, or redis://127.0.0.1:6379
/// let cluster = try RWLockClient(url: "redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
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
/// It is a swift-service-lifecycle `Service`: run it in the application's
/// `ServiceGroup`, and a graceful shutdown drains it (see ``run()``). Outside
/// a group, call ``shutdown()`` when done, or ``close()`` to stop at once.
public final class RWLockClient: Sendable {
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
    /// The settings this client was made with.
    public let configuration: Configuration
    /// The most connections (and worker threads) this client opens to each
    /// server.
    public var maxConnections: Int { configuration.maxConnections }
    /// How long one command may wait for its reply.
    public var commandTimeout: Duration { configuration.commandTimeout }

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
    /// Every thread this client starts, so that ``shutdown()`` can wait for them.
    let threads = ClientThreads()
    /// Running, draining or closed; the scoped holds a drain waits for.
    let lifecycle = ClientLifecycle()

    /// Creates a client for a server, a cluster or a Sentinel deployment;
    /// nothing connects until the first command.
    ///
    /// ```swift
    /// let client = try RWLockClient(
    ///     deployment: try RedisDeployment(url: "rediss://redis.internal:6380"),
    ///     configuration: .init(maxConnections: 8, tls: TLSConfiguration(caFile: "/etc/ssl/redis-ca.pem")))
    /// ```
    ///
    /// - Throws: ``RWLockError`` of kind `.invalidConfiguration`, naming the
    ///   setting, for a bad ``Configuration`` or TLS settings given for a
    ///   deployment that does not use TLS.
    public convenience init(deployment: RedisDeployment, configuration: Configuration = .init()) throws {
        try self.init(deployment: deployment, configuration: configuration, subscriberEndpoint: nil)
    }

    /// The designated initializer; `subscriberEndpoint`, for tests, sends the
    /// waiters' pub/sub connection of a single-server client elsewhere (a
    /// slow proxy in front of the same server).
    package init(deployment: RedisDeployment, configuration: Configuration, subscriberEndpoint: RedisEndpoint?) throws {
        try configuration.validate()
        var deployment = deployment
        if let tls = configuration.tls { deployment = try deployment.usingTLS(tls) }
        try deployment.validateForClient()
        self.deployment = deployment
        self.configuration = configuration
        let (connectTimeout, commandTimeout) = (configuration.connectTimeout, configuration.commandTimeout)
        switch deployment.kind {
        case .server(let endpoint):
            self.transport = .server(
                ConnectionPool(
                    configuration: .init(
                        endpoint: endpoint, maxConnections: configuration.maxConnections,
                        connectTimeout: connectTimeout, commandTimeout: commandTimeout, threads: threads)))
            let subscribeAt = subscriberEndpoint ?? endpoint
            self.subscriber = Subscriber(endpoint: { _ in subscribeAt }, connectTimeout: connectTimeout, threads: threads)
        case .cluster(let seeds):
            let router = ClusterRouter(
                configuration: .init(
                    seeds: seeds, maxConnectionsPerNode: configuration.maxConnections, connectTimeout: connectTimeout,
                    commandTimeout: commandTimeout, retryWindow: configuration.clusterRetryWindow, threads: threads))
            self.transport = .cluster(router)
            self.subscriber = Subscriber(
                endpoint: { router.subscriptionEndpoint(attempt: $0) }, connectTimeout: connectTimeout, threads: threads)
        case .sentinel(let sentinel):
            let router = SentinelRouter(
                configuration: .init(
                    deployment: sentinel, maxConnections: configuration.maxConnections, connectTimeout: connectTimeout,
                    commandTimeout: commandTimeout, retryWindow: configuration.clusterRetryWindow, threads: threads))
            self.transport = .sentinel(router)
            self.subscriber = Subscriber(
                endpoint: { router.subscriptionEndpoint(attempt: $0) }, connectTimeout: connectTimeout, threads: threads)
        }
        let subscriber = self.subscriber
        self.localWriters = LocalWriters { subscriber.announce($0) }
    }

    /// Creates a client for one server; nothing connects until the first
    /// command.
    ///
    /// - Throws: as ``init(deployment:configuration:)``.
    public convenience init(endpoint: RedisEndpoint, configuration: Configuration = .init()) throws {
        try self.init(deployment: .server(endpoint), configuration: configuration)
    }

    /// Creates a client from a URL (see ``RedisEndpoint`` and
    /// ``RedisDeployment`` for the forms), or from the `REDIS_URL`
    /// environment variable when `url` is nil; nothing connects until the
    /// first command.
    ///
    /// ```swift
    /// let client = try RWLockClient(url: nil)   // REDIS_URL, or redis://127.0.0.1:6379
    /// let cluster = try RWLockClient(url: "redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
    /// let managed = try RWLockClient(url: "rediss://redis.internal:6380", configuration: .init(maxConnections: 8))
    /// ```
    ///
    /// - Parameters:
    ///   - url: the URL; nil for `REDIS_URL`, else `redis://127.0.0.1:6379`.
    ///   - configuration: pool size, timeouts and TLS settings.
    /// - Throws: ``RWLockError`` of kind `.invalidConfiguration` for a bad
    ///   URL or setting, or TLS settings given with a URL that does not use TLS.
    public convenience init(url: String?, configuration: Configuration = .init()) throws {
        let deployment = try url.map(RedisDeployment.init(url:)) ?? RedisDeployment.fromEnvironment()
        try self.init(deployment: deployment, configuration: configuration)
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
        close()
    }

    /// Closes the client at once: fails every queued command with
    /// ``RWLockError/shutdown``, lets running commands finish, then closes
    /// every connection and ends the worker threads, without waiting for
    /// them. Later commands and acquires fail at once. Scoped bodies still
    /// running lose their leases at their validity deadline (their renewals
    /// fail). Safe to call more than once; dropping the last reference does
    /// the same. Prefer ``shutdown()``, which drains first.
    public func close() {
        lifecycle.close()
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
