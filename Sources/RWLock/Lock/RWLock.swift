import CoreMetrics
import Foundation
import Logging
import Synchronization
import Tracing

/// A distributed reader-writer lock kept in Redis: any number of readers, or
/// one writer, across processes and machines.
///
/// Every operation is one atomic Lua script from the package's `lua/`
/// directory. Holders own the lock through *leases* that end on the Redis
/// server's clock unless renewed, so a crashed holder blocks others for at
/// most one lease. By default writers are preferred: once a writer waits, no
/// new reader gets in.
///
/// ```swift
/// let client = try RWLockClient(url: nil)
/// let lock = try RWLock(name: "invoices", client: client)
/// let total = try await lock.withReadLock { try await loadTotal() }
/// try await lock.withWriteLock(timeout: .seconds(5)) { fence in
///     try await store(total + 1, fencedBy: fence)
/// }
/// ```
///
/// A lock value holds no connection or thread of its own; make as many as
/// needed. All of a lock's Redis keys share the hash tag `{name}`
/// (`rwlock:{name}:writer`, `…:readers`, `…:caps`, `…:queue`, `…:intents`,
/// `…:fence`, and the pub/sub channel `…:channel`), so a cluster keeps them
/// in one slot.
public final class RWLock: Sendable {
    /// The lock's name, the `{name}` in its keys.
    public let name: String
    /// The client whose connections the lock's scripts run on.
    public let client: RWLockClient
    /// Lease length, preference and the other settings, as validated at init.
    public let options: Options
    /// Where the lock reports grants, refusals, waits and releases, at
    /// `trace` and `debug` level only: a lock never logs above `debug`.
    public let logger: Logger

    /// The logger a lock uses when given none: discards everything.
    public static let silentLogger = Logger(label: "rwlock") { _ in SwiftLogNoOpLogHandler() }

    /// KEYS[1...7] of every script, in the scripts' header order.
    let keys: [[UInt8]]
    /// Where waits, holds and losses are counted (see ``LockMetrics`` and the DocC article "Operating").
    let metrics: LockMetrics
    /// Where acquires and holds become spans (see ``LockTracing``).
    let tracing: LockTracing
    /// Acquire scripts this instance has sent, granted or not: lets tests
    /// see which waits asked the server.
    let acquiresSent = Atomic<Int>(0)

    /// The key suffixes, in the order the scripts' headers declare KEYS.
    static let keySuffixes = ["writer", "readers", "caps", "queue", "intents", "fence", "channel"]

    /// The longest lock name, in UTF-8 bytes.
    public static let maximumNameLength = 200

    /// Makes a lock; checks every setting, sends nothing.
    ///
    /// - Parameters:
    ///   - name: 1 to 200 bytes of UTF-8 without `{`, `}`, whitespace or
    ///     control characters. Locks with the same name on the same server are
    ///     the same lock.
    ///   - client: the server to keep the lock in.
    ///   - options: lease length and the rest; see ``Options``.
    ///   - logger: receives `trace`/`debug` records of grants, refusals,
    ///     waits and releases, with the lock's name and the lease token.
    ///   - metricsFactory: where the lock's metrics go (acquire waits by
    ///     outcome, hold times, lost leases, failed renewals, current holders
    ///     and waiters: see the DocC article *Operating*); `nil` (the default) for
    ///     the backend bootstrapped with `MetricsSystem.bootstrap`, which
    ///     discards them if none was.
    ///   - tracer: where the lock's spans go (`rwlock.acquire`, `rwlock.hold`:
    ///     see the DocC article *Operating*); `nil` (the default) for the
    ///     tracer bootstrapped with `InstrumentationSystem.bootstrap`, which
    ///     records nothing if none was.
    /// - Throws: ``RWLockError`` of kind `.invalidConfiguration`, naming the
    ///   bad setting, before any network traffic.
    public init(
        name: String, client: RWLockClient, options: Options = .init(), logger: Logger = RWLock.silentLogger,
        metricsFactory: (any MetricsFactory)? = nil, tracer: (any Tracer)? = nil
    ) throws {
        try Self.validate(name: name)
        try options.validate()
        if let replicated = options.replicatedGrants, replicated.timeout >= client.commandTimeout {
            // The WAIT reply would come after the client gave up on it.
            throw RWLockError.invalidConfiguration(
                "the replicated grants' timeout (\(replicated.timeout)) must be shorter than the client's command timeout (\(client.commandTimeout))")
        }
        self.name = name
        self.client = client
        self.options = options
        var logger = logger
        logger[metadataKey: "rwlock.name"] = .string(name)
        self.logger = logger
        self.keys = Self.keys(name: name, prefix: options.keyPrefix)
        self.metrics = LockMetrics(
            lockName: name, includeName: options.metricsIncludeLockName, factory: metricsFactory ?? MetricsSystem.factory)
        self.tracing = LockTracing(
            tracer: tracer, lockName: name, includeName: options.traceIncludeLockName, deployment: client.deployment)
    }

    /// The lock's keys, KEYS[1] to KEYS[7] of every script, in order:
    /// `prefix{name}:writer` and the rest.
    static func keys(name: String, prefix: String) -> [[UInt8]] {
        keySuffixes.map { Array("\(prefix){\(name)}:\($0)".utf8) }
    }

    /// The pub/sub channel the scripts publish releases on (KEYS[7]).
    var channel: [UInt8] { keys[6] }

    private static func validate(name: String) throws {
        func reject(_ why: String) -> RWLockError {
            .invalidConfiguration("the lock name \(name.debugDescription) \(why)")
        }
        guard !name.isEmpty else { throw reject("is empty; give the lock a name such as \"orders\"") }
        guard name.utf8.count <= maximumNameLength else {
            throw reject("is \(name.utf8.count) bytes long; the limit is \(maximumNameLength)")
        }
        // `{` or `}` would change the keys' Redis Cluster hash tag and split
        // the lock's keys across slots.
        guard !name.contains("{"), !name.contains("}") else { throw reject("contains '{' or '}'") }
        guard !name.unicodeScalars.contains(where: \.isWhitespaceOrControl) else {
            throw reject("contains whitespace or a control character")
        }
    }
}

extension Unicode.Scalar {
    var isWhitespaceOrControl: Bool {
        properties.isWhitespace || properties.generalCategory == .control || properties.generalCategory == .format
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero: the unit of the scripts' ARGV.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
