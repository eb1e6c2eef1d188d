/// A connection to one Redis server, shared by every lock that uses it.
///
/// Create one per server and keep it for the life of the program:
///
/// ```swift
/// let client = try RedisClient(url: nil)   // REDIS_URL, or redis://127.0.0.1:6379
/// ```
///
/// Behind it is a pool of up to `maxConnections` connections, each driven by
/// its own thread, so Redis round trips never block Swift's cooperative
/// thread pool. Callers beyond `maxConnections` wait their turn in a queue;
/// threads and connections are started lazily and a connection that fails is
/// replaced on the next use, not retried: a command whose connection broke
/// throws ``RWLockError`` of kind `.connection`, because it may or may not
/// have run.
///
/// Lock waiters share one more connection and thread, started at the first
/// wait, that subscribes to the locks' release channels.
///
/// Call ``shutdown()`` when done; dropping the last reference does the same.
public final class RedisClient: Sendable {
    /// The server this client talks to.
    public let endpoint: RedisEndpoint
    /// The most connections (and worker threads) this client opens.
    public let maxConnections: Int

    let pool: ConnectionPool
    /// The one pub/sub connection that wakes this client's lock waiters.
    let subscriber: Subscriber

    /// Creates a client; nothing connects until the first command.
    ///
    /// - Parameters:
    ///   - endpoint: the server and login.
    ///   - maxConnections: pool size, at least 1. Each connection has a
    ///     dedicated thread.
    ///   - connectTimeout: how long opening a connection may take (positive).
    ///   - commandTimeout: how long one command may wait for its reply
    ///     (positive). A connection that times out is discarded.
    public init(
        endpoint: RedisEndpoint,
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) {
        precondition(maxConnections >= 1, "RedisClient needs maxConnections >= 1, got \(maxConnections)")
        precondition(connectTimeout > .zero, "RedisClient needs a positive connectTimeout, got \(connectTimeout)")
        precondition(commandTimeout > .zero, "RedisClient needs a positive commandTimeout, got \(commandTimeout)")
        self.endpoint = endpoint
        self.maxConnections = maxConnections
        self.subscriber = Subscriber(endpoint: endpoint, connectTimeout: connectTimeout)
        self.pool = ConnectionPool(
            configuration: .init(
                endpoint: endpoint,
                maxConnections: maxConnections,
                connectTimeout: connectTimeout,
                commandTimeout: commandTimeout
            )
        )
    }

    /// Creates a client from a Redis URL (see ``RedisEndpoint`` for the
    /// forms), or from the `REDIS_URL` environment variable when `url` is nil.
    ///
    /// - Throws: ``RWLockError`` of kind `.invalidConfiguration` for a bad URL.
    public convenience init(
        url: String?,
        maxConnections: Int = 4,
        connectTimeout: Duration = .seconds(2),
        commandTimeout: Duration = .seconds(2)
    ) throws {
        let endpoint = try url.map(RedisEndpoint.init(url:)) ?? RedisEndpoint.fromEnvironment()
        self.init(
            endpoint: endpoint,
            maxConnections: maxConnections,
            connectTimeout: connectTimeout,
            commandTimeout: commandTimeout
        )
    }

    deinit {
        pool.shutdown()
        subscriber.shutdown()
    }

    /// Fails every queued command with ``RWLockError/shutdown``, lets running
    /// commands finish, then closes every connection and ends the worker
    /// threads. Later commands fail at once. Safe to call more than once.
    public func shutdown() {
        pool.shutdown()
        subscriber.shutdown()
    }

    /// Sends one command (binary-safe arguments) and returns its reply. An
    /// error reply is returned as ``RESPValue/error(_:)``, not thrown.
    ///
    /// - Throws: ``RWLockError`` (`.connection`, `.protocolError`,
    ///   `.shutdown`, `.invalidConfiguration` for an empty command) or
    ///   `CancellationError` if the task was cancelled before the command
    ///   was sent.
    func send(_ args: [[UInt8]]) async throws -> RESPValue {
        guard !args.isEmpty else {
            throw RWLockError.invalidConfiguration("a Redis command needs at least one argument")
        }
        let replies = try await pool.run([args], isPipeline: false)
        guard let reply = replies.first else { throw RWLockError.protocolError("no reply to \(args.count)-argument command") }
        return reply
    }

    /// ``send(_:)`` with text arguments, encoded as UTF-8.
    func send(_ words: [String]) async throws -> RESPValue {
        try await send(words.map { Array($0.utf8) })
    }

    /// Sends several commands in one round trip on one connection and
    /// returns their replies in order.
    ///
    /// - Throws: as ``send(_:)``; on a connection error no reply is returned,
    ///   and any of the commands may or may not have run.
    func pipeline(_ commands: [[[UInt8]]]) async throws -> [RESPValue] {
        guard !commands.isEmpty else { return [] }
        guard commands.allSatisfy({ !$0.isEmpty }) else {
            throw RWLockError.invalidConfiguration("every command in a pipeline needs at least one argument")
        }
        return try await pool.run(commands, isPipeline: true)
    }
}
