import Synchronization
import Tracing

/// A read or write hold on an ``RWLock``, valid until ``validUntil`` unless
/// renewed.
///
/// Returned by ``RWLock/acquireRead(timeout:)`` and
/// ``RWLock/acquireWrite(timeout:)`` for holds that do not fit one closure.
/// The holder must ``renew()`` before ``validUntil`` and ``release()`` when
/// done; an abandoned lease simply expires on the server.
///
/// ```swift
/// let lease = try await lock.acquireWrite(timeout: .seconds(2))
/// defer { Task { try? await lease.release() } }
/// try await step1(lease.fence!)
/// try await lease.renew()
/// try await step2(lease.fence!)
/// ```
///
/// Validity is judged on this process's monotonic clock from when the
/// acquire or renew request was *sent*, less ``RWLock/Options/driftMargin``
/// (R1): never longer than the server could have granted.
public final class Lease: Sendable {
    /// Read or write.
    public enum Mode: Sendable, Hashable {
        /// Shared with other readers; no writer holds the lock meanwhile.
        case read
        /// Exclusive.
        case write
    }

    /// The lock this lease holds.
    public let lock: RWLock
    /// The lease's token as stored in Redis: the lock's token prefix, then
    /// this process's random 128-bit id in hex and a counter
    /// (`9F2C…41E7-1A`); unique per lease.
    public let token: String
    /// The fencing token of the write grant; `nil` for a lease acquired for
    /// reading. A downgraded lease keeps its fence.
    public let fence: Fence?

    private struct State {
        var mode: Mode
        var validUntil: ContinuousClock.Instant
        var ended = false
        /// When the lease was handed to its holder (and counted in metrics);
        /// nil for a grant released unused.
        var heldSince: ContinuousClock.Instant?
        var lossReported = false
        /// R5: the scoped hold's keeper found it lost.
        var lost = false
        /// R5: nested scoped bodies running under this hold, each with the
        /// canceller of its task; and whether the hold stopped taking new
        /// ones, with who waits for the last to end.
        var nestedBodies: [ObjectIdentifier: CurrentTaskCanceller] = [:]
        var closing = false
        var lastNestedBodyEnded: CheckedContinuation<Void, Never>?
        /// How the lease is counted among the client's holders
        /// (``LocalWriters``): as a write or a read lease; nil when not.
        var localRole: Mode?
        /// Told each new validity deadline (``onValidityExtended(_:)``).
        var validityObservers: [@Sendable (ContinuousClock.Instant) -> Void] = []
        /// The `rwlock.hold` span, from the hand-over to the end.
        var holdSpan: (any Span)?
    }
    private let state: Mutex<State>
    /// The mode granted, which metrics count the lease under to the end.
    private let grantedMode: Mode

    init(lock: RWLock, token: String, mode: Mode, fence: Fence?, validUntil: ContinuousClock.Instant) {
        self.lock = lock
        self.token = token
        self.fence = fence
        self.grantedMode = mode
        self.state = Mutex(State(mode: mode, validUntil: validUntil))
    }

    /// Read or write; a downgraded lease is `.read`.
    public var mode: Mode { state.withLock { $0.mode } }

    /// The instant, on `ContinuousClock`, after which the lease must not be
    /// relied on. Moves forward with each successful ``renew()``.
    public var validUntil: ContinuousClock.Instant { state.withLock { $0.validUntil } }

    /// Calls `observer` with the new ``validUntil`` each time a renewal or a
    /// downgrade moves it forward, from the task that confirmed it, before
    /// that call returns. `rwlock` hands each one to its keeper process.
    package func onValidityExtended(_ observer: @escaping @Sendable (ContinuousClock.Instant) -> Void) {
        state.withLock { $0.validityObservers.append(observer) }
    }

    /// True while the lease has been neither released nor lost and
    /// ``validUntil`` has not passed.
    public var isValid: Bool {
        state.withLock { !$0.ended && ContinuousClock.now < $0.validUntil }
    }

    /// Extends the lease to one ``RWLock/Options/lease`` from now (less near
    /// its hard cap).
    ///
    /// - Throws: ``RWLockError`` `.leaseLost` when the server no longer has
    ///   the lease (it expired or was released) — the lease is then over;
    ///   `.notHolder` after ``release()``; `.connection` and other transport
    ///   errors, after which the lease is still valid until ``validUntil``
    ///   and renewing again may succeed; `.notReplicated` (with
    ///   ``RWLock/Options/replicatedGrants``) when too few replicas confirmed
    ///   the renewal: ``validUntil`` is then not moved, and renewing again
    ///   may succeed.
    public func renew() async throws {
        try checkNotEnded("renew")
        do {
            try await sendRenew()
        } catch {
            // A renewal whose lease ended while it was on its way (released,
            // or lost at its deadline: the keeper gave up waiting for it) is
            // a straggler: neither a failed renewal nor a new loss.
            let straggler = hasEnded
            if (error as? RWLockError)?.kind == .leaseLost {
                end()
                leaveLocalHolders()
                if !straggler { reportLoss() }
            }
            if !straggler { lock.metrics.renewalFailed(grantedMode) }
            throw error
        }
    }

    private func sendRenew() async throws {
        let sent = ContinuousClock.now
        let (reply, unconfirmed) = try await lock.runGranting(
            .renew, arguments: [Array(token.utf8), lock.options.lease.millisecondArgument])
        let (renewed, milliseconds) = try ScriptReply.pair(reply, from: .renew)
        guard renewed == 1 else {
            lock.logger.debug("renew refused: lease lost", metadata: ["rwlock.token": .string(token)])
            throw RWLockError.leaseLost("the server no longer holds \(describe) (it expired or was released)")
        }
        try extend(sent: sent, grantedMilliseconds: milliseconds, unlessUnconfirmed: unconfirmed, by: "renewed")
        lock.logger.trace("renewed", metadata: ["rwlock.token": .string(token), "rwlock.lease_ms": "\(milliseconds)"])
    }

    /// Ends the lease and wakes the lock's waiters. Runs even when the calling
    /// task is cancelled, since a lease left behind blocks others.
    ///
    /// - Throws: ``RWLockError`` `.notHolder` when the server says the token
    ///   held nothing (the lease had expired, or was released before);
    ///   transport errors, after which the lease expires on its own.
    public func release() async throws {
        try checkNotEnded("release")
        end()
        guard try await sendRelease() else {
            reportLoss()
            throw RWLockError.notHolder("\(describe) had already ended on the server when released")
        }
    }

    /// Turns this write lease into a read lease, atomically, so no writer can
    /// get in between; waiting readers are woken. The fence is kept.
    ///
    /// - Throws: ``RWLockError`` `.notHolder` if the lease is a read lease or
    ///   was released; `.leaseLost` when the server no longer has the write
    ///   lease; transport errors as ``renew()``; `.notReplicated` when too few
    ///   replicas confirmed: the lease is then a read lease whose
    ///   ``validUntil`` was not moved.
    public func downgrade() async throws {
        try checkNotEnded("downgrade")
        guard mode == .write else {
            throw RWLockError.notHolder("\(describe) is a read lease; only a write lease can be downgraded")
        }
        let sent = ContinuousClock.now
        let (reply, unconfirmed) = try await lock.runGranting(
            .downgrade, arguments: [Array(token.utf8), lock.options.lease.millisecondArgument])
        let (downgraded, milliseconds) = try ScriptReply.pair(reply, from: .downgrade)
        guard downgraded == 1 else {
            end()
            leaveLocalHolders()
            reportLoss()
            throw RWLockError.leaseLost("the server no longer holds \(describe), so it cannot be downgraded")
        }
        state.withLock { $0.mode = .read }
        countLocallyAsReading()
        try extend(sent: sent, grantedMilliseconds: milliseconds, unlessUnconfirmed: unconfirmed, by: "downgraded")
        lock.logger.debug("downgraded to read", metadata: ["rwlock.token": .string(token)])
    }

    // MARK: - Internals

    /// `"the write lease <token> on lock <name>"`, for messages.
    var describe: String {
        "the \(mode == .write ? "write" : "read") lease \(token) on lock \(lock.name)"
    }

    var hasEnded: Bool { state.withLock { $0.ended } }

    // MARK: - Nested scoped bodies (R5)

    /// Whether the scoped hold's keeper found the lease lost.
    var wasLost: Bool { state.withLock { $0.lost } }

    /// The keeper found the lease lost: every nested body's task is
    /// cancelled, as the outer body's is.
    func markLost() {
        let nested = state.withLock { state -> [CurrentTaskCanceller] in
            state.lost = true
            return Array(state.nestedBodies.values)
        }
        for canceller in nested { canceller.cancel() }
    }

    /// Registers a nested body of the calling task; nil once the hold is
    /// closing (its outer body returned and no nested body runs).
    func enterNestedBody() -> CurrentTaskCanceller? {
        let canceller = CurrentTaskCanceller()
        let entered = state.withLock { state -> Bool in
            guard !state.closing, !state.ended else { return false }
            state.nestedBodies[ObjectIdentifier(canceller)] = canceller
            return true
        }
        if entered && wasLost { canceller.cancel() }
        return entered ? canceller : nil
    }

    func leaveNestedBody(_ canceller: CurrentTaskCanceller) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.nestedBodies[ObjectIdentifier(canceller)] = nil
            guard state.nestedBodies.isEmpty else { return nil }
            defer { state.lastNestedBodyEnded = nil }
            return state.lastNestedBodyEnded
        }
        waiter?.resume()
    }

    /// Waits until no nested body runs, then takes no new ones.
    func closeToNestedBodies() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                state.closing = true
                if state.nestedBodies.isEmpty { return true }
                state.lastNestedBodyEnded = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// An abandoned lease (never released) is counted out of the holders
    /// when it goes.
    deinit {
        end()
        leaveLocalHolders()
    }

    /// Marks the lease over; the first call counts it out of the metrics.
    func end() {
        let (heldSince, span) = state.withLock { state -> (ContinuousClock.Instant?, (any Span)?) in
            guard !state.ended else { return (nil, nil) }
            state.ended = true
            defer { state.holdSpan = nil }
            return (state.heldSince, state.holdSpan)
        }
        // Outside the lease's lock: a tracer may take locks of its own.
        span?.end()
        if let heldSince { lock.metrics.ended(grantedMode, heldFor: .now - heldSince) }
    }

    /// A lease was granted. While it is held, this client's waiters that it
    /// would refuse wait without asking the server: every reader behind a
    /// write lease, every writer behind either. Until it is released, lost,
    /// downgraded (a write lease then counts as a read lease) or past its
    /// validity (see ``LocalWriters``).
    func joinLocalHolders() {
        // Registered under the lease's lock, as in countLocallyAsReading():
        // a leave can then never run between the role and the entry.
        state.withLock { state in
            guard !state.ended, state.localRole == nil else { return }
            state.localRole = state.mode
            switch state.mode {
            case .write: lock.client.localWriters.startHolding(token, on: lock.channel, validUntil: state.validUntil)
            case .read: lock.client.localWriters.startReading(token, on: lock.channel, validUntil: state.validUntil)
            }
        }
    }

    /// Idempotent; wakes the lock's waiters in this client when this was
    /// the last lease in their way.
    func leaveLocalHolders() {
        let role = state.withLock { state -> Mode? in
            defer { state.localRole = nil }
            return state.localRole
        }
        switch role {
        case .write: lock.client.localWriters.stopHolding(token, on: lock.channel)
        case .read: lock.client.localWriters.stopReading(token, on: lock.channel)
        case nil: break
        }
    }

    /// The lease was downgraded on the server (its mode is now read): it
    /// counts as a read lease instead of a write lease, in one step, so
    /// this client's writers stay behind it without a gap while its readers
    /// are woken. The role and the registry move under the lease's lock: a
    /// release racing the downgrade then finds either entry, never neither
    /// (LocalWriters never calls back into a lease, so the order is safe).
    private func countLocallyAsReading() {
        let opened = state.withLock { state -> Bool in
            guard state.localRole == .write else { return false }
            state.localRole = .read
            return lock.client.localWriters.moveToReading(token, on: lock.channel, validUntil: state.validUntil)
        }
        if opened { lock.client.localWriters.wakeWaiters(on: lock.channel) }
    }

    /// The lease is handed to its holder: counted as held from now.
    func startHolding() {
        let span = lock.tracing.startHold(grantedMode, fence: fence)
        state.withLock { state in
            state.heldSince = .now
            state.holdSpan = span
        }
        lock.metrics.granted(grantedMode)
    }

    /// The `rwlock.hold` span, while the lease is held: a scoped body runs
    /// with it as the current context.
    var holdSpan: (any Span)? { state.withLock { $0.holdSpan } }

    /// The lease ended before its holder was done; counted once.
    func reportLoss() {
        let first = state.withLock { state -> Bool in
            defer { state.lossReported = true }
            return !state.lossReported && state.heldSince != nil
        }
        if first {
            lock.metrics.leaseLost(grantedMode)
            if let span = holdSpan {
                span.attributes["rwlock.lost"] = true
                span.setStatus(SpanStatus(code: .error, message: "lease lost"))
            }
        }
    }

    /// R1: valid until the request's send time plus what the server granted,
    /// less the drift margin; never moved backwards.
    func extend(sent: ContinuousClock.Instant, grantedMilliseconds: Int64) {
        let until = lock.options.validity(sent: sent, grantedMilliseconds: grantedMilliseconds)
        let (validUntil, counted, observers) = state.withLock { state in
            let moved = until > state.validUntil
            state.validUntil = max(state.validUntil, until)
            return (state.validUntil, state.localRole != nil, moved ? state.validityObservers : [])
        }
        if counted { lock.client.localWriters.extend(token, on: lock.channel, validUntil: validUntil) }
        for observer in observers { observer(validUntil) }
    }

    /// ``extend(sent:grantedMilliseconds:)``, unless the replicated-grants
    /// check left a reason (`unconfirmed`): then validity stays put and
    /// `.notReplicated` says what the master did (`operation`) and why it
    /// does not count.
    private func extend(
        sent: ContinuousClock.Instant, grantedMilliseconds: Int64, unlessUnconfirmed unconfirmed: String?, by operation: String
    ) throws {
        if let unconfirmed {
            throw RWLockError.notReplicated(
                "\(describe) was \(operation) on the master but \(unconfirmed); its validity was not extended")
        }
        extend(sent: sent, grantedMilliseconds: grantedMilliseconds)
    }

    /// Sends release.lua ignoring the task's cancellation, so that a
    /// cancelled caller still releases (the connection pool otherwise
    /// refuses work for cancelled tasks).
    /// - Returns: whether the server had the lease.
    func sendRelease() async throws -> Bool {
        lock.logger.debug("releasing", metadata: ["rwlock.token": .string(token)])
        // After the reply, not before: a reader woken earlier would find the
        // lock still held and be refused.
        defer { leaveLocalHolders() }
        let (client, keys, token) = (lock.client, lock.keys, Array(token.utf8))
        return try await client.ignoringCancellation {
            let reply = try await client.run(.release, keys: keys, arguments: [token])
            return try ScriptReply.integer(reply, from: .release) == 1
        }
    }

    private func checkNotEnded(_ operation: String) throws {
        if hasEnded {
            throw RWLockError.notHolder("cannot \(operation) \(describe): it was already released or lost")
        }
    }
}
