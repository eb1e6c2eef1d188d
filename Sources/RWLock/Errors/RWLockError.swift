/// An error thrown by RWLock.
///
/// Errors are values of one struct rather than an enum so that new kinds can
/// be added without breaking anyone's exhaustive `switch`. To tell kinds
/// apart, compare ``kind``:
///
/// ```swift
/// do {
///     try await lock.withWriteLock(timeout: .seconds(5)) { fence in try await store.save(report, fence: fence.value) }
/// } catch let error as RWLockError where error.kind == .timedOut {
///     retryLater()
/// }
/// ```
///
/// ``description`` is a complete sentence meant for logs: what happened and,
/// where there is one, what to do about it.
public struct RWLockError: Error, Sendable, CustomStringConvertible {
    // The payload of each kind. Private so adding a case is not a breaking
    // change; the public surface is `kind`, the static constructors and the
    // accessors below.
    private enum Code: Sendable {
        case invalidConfiguration(String)
        case connection(String)
        case tls(String)
        case permissionDenied(String)
        case server(String)
        case protocolError(String)
        case shutdown
        case draining(String)
        case timedOut(String)
        case leaseLost(String)
        case notHolder(String)
        case cancelled(String)
        case notReplicated(String)
        case unsafeServer(String)
        case wouldDeadlock(String)
        case quarantined(String, remaining: Duration)
    }

    /// The kind of an ``RWLockError``, for comparisons and `switch`es.
    ///
    /// A struct with static members instead of an enum: more kinds will be
    /// added, and code that matches on kinds must keep compiling.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// A setting (a URL, a timeout, a pool size) is unusable.
        public static let invalidConfiguration = Kind("invalidConfiguration")
        /// Redis could not be reached, or the connection broke mid-command.
        public static let connection = Kind("connection")
        /// The TLS handshake with Redis failed: its certificate did not
        /// verify (an unknown CA, a name it does not carry), it required a
        /// client certificate, or the port does not speak TLS. The
        /// description says which check failed.
        public static let tls = Kind("tls")
        /// The Redis user lacks a permission the lock needs (R6): a command,
        /// a key pattern or a channel. Found before any key of the lock
        /// changed; the description names what is missing and the ACL rule
        /// to add (`rwlock acl` prints them all).
        public static let permissionDenied = Kind("permissionDenied")
        /// Redis answered with an error reply.
        public static let server = Kind("server")
        /// Redis answered with something the client cannot decode.
        public static let protocolError = Kind("protocolError")
        /// The ``RWLockClient`` was shut down before the command could run.
        public static let shutdown = Kind("shutdown")
        /// The lock was not granted within the caller's timeout.
        public static let timedOut = Kind("timedOut")
        /// A held lease ended (expired, renewal refused or failed, or its hard
        /// cap reached) before the holder was done; the work done under it may
        /// have overlapped another holder's.
        public static let leaseLost = Kind("leaseLost")
        /// Release, renew or downgrade was asked of a lease that Redis says
        /// this token does not hold (any more).
        public static let notHolder = Kind("notHolder")
        /// The task was cancelled while waiting for or holding the lock.
        public static let cancelled = Kind("cancelled")
        /// With ``RWLock/Options/replicatedGrants``, Redis granted or renewed
        /// a lease but fewer replicas than required confirmed it in time; a
        /// grant is then released unused, a renewal does not extend validity.
        public static let notReplicated = Kind("notReplicated")
        /// The server's configuration lets it drop the lock's keys before
        /// their leases end (R3): `maxmemory` with an evicting
        /// `maxmemory-policy`, or its `INFO` could not be read to tell. Nothing
        /// was granted; the description names the setting, its value and the
        /// fix. Opt out with ``RWLock/Options/allowEviction``.
        public static let unsafeServer = Kind("unsafeServer")
        /// The call would wait on a hold of the lock that the same task tree
        /// already has (R5): a write lock asked for inside a read lock of the
        /// same lock (an upgrade), or an explicit acquire inside a scoped
        /// hold. Nothing was sent.
        public static let wouldDeadlock = Kind("wouldDeadlock")
        /// Internal: the server restarted less than the restart quarantine
        /// ago (R4); acquires wait it out and never throw it.
        static let quarantined = Kind("quarantined")

        /// The kind's name, as written after the dot (`connection`).
        public var description: String { name }
    }

    private let code: Code
    /// Set when the failing command certainly never ran (no connection could
    /// be opened, or no node served its slot): the acquire loop then knows
    /// this attempt left nothing on the server to clean up.
    var commandDidNotRun = false

    private init(_ code: Code) { self.code = code }

    /// What kind of failure this is.
    public var kind: Kind {
        switch code {
        case .invalidConfiguration: .invalidConfiguration
        case .connection: .connection
        case .tls: .tls
        case .permissionDenied: .permissionDenied
        case .server: .server
        case .protocolError: .protocolError
        case .shutdown, .draining: .shutdown
        case .timedOut: .timedOut
        case .leaseLost: .leaseLost
        case .notHolder: .notHolder
        case .cancelled: .cancelled
        case .notReplicated: .notReplicated
        case .unsafeServer: .unsafeServer
        case .wouldDeadlock: .wouldDeadlock
        case .quarantined: .quarantined
        }
    }

    /// For ``Kind/quarantined``: how much longer the server grants nothing.
    var quarantineRemaining: Duration? {
        if case .quarantined(_, let remaining) = code { return remaining }
        return nil
    }

    /// The error reply exactly as Redis sent it (without the leading `-`),
    /// for ``Kind/server`` errors; `nil` for every other kind.
    public var serverMessage: String? {
        if case .server(let message) = code { return message }
        return nil
    }

    /// A full sentence for logs: what happened and what to do about it.
    public var description: String {
        switch code {
        case .invalidConfiguration(let detail):
            return "Invalid RWLock configuration: \(detail)"
        case .connection(let detail):
            return "Redis connection failed: \(detail). Check that Redis is running and reachable "
                + "at the configured address; the connection is discarded and the next command "
                + "opens a new one."
        case .tls(let detail):
            return "TLS with Redis failed: \(detail). The connection is discarded."
        case .permissionDenied(let detail):
            return "The Redis user lacks a permission the lock needs: \(detail). Nothing of the lock was changed; "
                + "`rwlock acl` prints every rule a lock user needs."
        case .server(let message):
            return "Redis replied with an error: \"\(message)\"."
        case .protocolError(let detail):
            return "Redis sent a reply RWLock cannot decode: \(detail). Check that the server "
                + "speaks RESP2 (Redis 2.6 or newer); the connection is discarded."
        case .shutdown:
            return "The RWLockClient was shut down; create a new client to send more commands."
        case .draining(let detail):
            return "The RWLockClient is shutting down: \(detail). No new lock is granted once a shutdown began."
        case .timedOut(let detail):
            return "Timed out waiting for the lock: \(detail). Retry later, or pass a longer timeout."
        case .leaseLost(let detail):
            return "The lock's lease was lost while held: \(detail). Another holder may have run at the "
                + "same time; use the write lease's fencing token to reject stale writes, and consider a "
                + "longer lease."
        case .notHolder(let detail):
            return "Not the holder: \(detail). The lease had already expired or been released; "
                + "acquire the lock again."
        case .cancelled(let detail):
            return "Cancelled: \(detail). Nothing is held and no writer intent is left behind."
        case .notReplicated(let detail):
            return "Not confirmed by enough replicas: \(detail). A failover now could lose the grant; check "
                + "the replicas' health and replication lag, or lengthen the replicated grants' timeout."
        case .unsafeServer(let detail):
            return "Refusing to take a lock on this Redis server: \(detail). Nothing was granted."
        case .wouldDeadlock(let detail):
            return "This would wait on a lock the task already holds: \(detail)."
        case .quarantined(let detail, _):
            return "The Redis server is in its restart quarantine: \(detail)."
        }
    }

    /// A setting is unusable; `detail` says which, why, and the expected form.
    public static func invalidConfiguration(_ detail: String) -> RWLockError {
        RWLockError(.invalidConfiguration(detail))
    }

    /// Redis could not be reached or the connection broke; `detail` carries
    /// hiredis's error text and the address.
    public static func connection(_ detail: String) -> RWLockError {
        RWLockError(.connection(detail))
    }

    /// TLS with Redis failed; `detail` says which check and what to do.
    public static func tls(_ detail: String) -> RWLockError {
        RWLockError(.tls(detail))
    }

    /// The Redis user lacks a permission; `detail` names it and the rule
    /// to add.
    public static func permissionDenied(_ detail: String) -> RWLockError {
        RWLockError(.permissionDenied(detail))
    }

    /// Redis answered with an error reply; `message` is that reply's text.
    public static func server(_ message: String) -> RWLockError {
        RWLockError(.server(message))
    }

    /// The reply could not be decoded; `detail` says what was unexpected.
    public static func protocolError(_ detail: String) -> RWLockError {
        RWLockError(.protocolError(detail))
    }

    /// A reply could not be decoded, without further detail.
    public static var protocolError: RWLockError {
        RWLockError(.protocolError("unexpected reply"))
    }

    /// The client was shut down before the command ran.
    public static var shutdown: RWLockError { RWLockError(.shutdown) }

    /// The client is draining (a graceful shutdown began): no acquire starts
    /// or waits any more; `detail` names the lock. Its kind is ``Kind/shutdown``.
    public static func draining(_ detail: String) -> RWLockError {
        RWLockError(.draining(detail))
    }

    /// The lock was not granted in time; `detail` names the lock and timeout.
    public static func timedOut(_ detail: String) -> RWLockError {
        RWLockError(.timedOut(detail))
    }

    /// A held lease ended early; `detail` says which lock and why.
    public static func leaseLost(_ detail: String) -> RWLockError {
        RWLockError(.leaseLost(detail))
    }

    /// The token holds no live lease; `detail` names the lock and operation.
    public static func notHolder(_ detail: String) -> RWLockError {
        RWLockError(.notHolder(detail))
    }

    /// WAIT confirmed fewer replicas than required; `detail` says which
    /// operation, how many confirmed and what became of the grant.
    public static func notReplicated(_ detail: String) -> RWLockError {
        RWLockError(.notReplicated(detail))
    }

    /// The server may evict the lock's keys; `detail` names the setting, its
    /// value and the fix.
    public static func unsafeServer(_ detail: String) -> RWLockError {
        RWLockError(.unsafeServer(detail))
    }

    /// The call would wait on the task's own hold; `detail` says which and
    /// what to do instead.
    public static func wouldDeadlock(_ detail: String) -> RWLockError {
        RWLockError(.wouldDeadlock(detail))
    }

    /// The server restarted `remaining` too recently to grant (R4).
    static func quarantined(_ detail: String, remaining: Duration) -> RWLockError {
        RWLockError(.quarantined(detail, remaining: remaining))
    }

    /// The task was cancelled; `detail` says what it was doing.
    public static func cancelled(_ detail: String) -> RWLockError {
        RWLockError(.cancelled(detail))
    }
}
