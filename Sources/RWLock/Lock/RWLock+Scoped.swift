import Tracing

extension RWLock {
    /// Runs `body` holding a read lease, and returns its value.
    ///
    /// Waits (without limit, or up to `timeout`) while a writer holds the lock
    /// or, with ``Preference/writers``, while a writer waits. The lease is
    /// renewed every third of ``Options/lease`` while `body` runs and released
    /// on every path: return, throw, cancellation.
    ///
    /// ```swift
    /// let report = try await lock.withReadLock(timeout: .seconds(2)) {
    ///     try await store.readReport()
    /// }
    /// ```
    ///
    /// - Parameters:
    ///   - timeout: how long to wait for the lease (positive); `nil` for no
    ///     limit. Time spent in `body` does not count.
    ///   - isolation: the actor `body` runs on; inferred from the caller, so
    ///     `body` need not be `@Sendable`.
    ///   - body: the work to do under the lock. If the lease is lost while it
    ///     runs, the task is cancelled so that `body` can stop early.
    /// Nesting (R5): inside a `withReadLock` or `withWriteLock` of the same
    /// lock in the same task tree (child tasks included, detached tasks not),
    /// `body` runs at once under the outer lease: no new lease, no round trip.
    ///
    /// - Throws: `body`'s error; otherwise ``RWLockError`` `.timedOut`,
    ///   `.cancelled` (cancelled while waiting), `.leaseLost` (the lease
    ///   ended before `body` returned: renewal refused or failed past the
    ///   lease's validity, or its hard cap reached — another holder may have
    ///   overlapped), `.invalidConfiguration`, `.server`, `.connection`.
    public func withReadLock<T>(
        timeout: Duration? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        try await scoped(.read, timeout: timeout, waiting: true) { _ in try await body() }!
    }

    /// Runs `body` holding the write lease, and returns its value; `body`
    /// gets the grant's ``Fence``.
    ///
    /// While waiting, the writer's intent keeps new readers out (with
    /// ``Preference/writers``); on timeout or cancellation it is withdrawn at
    /// once. Renewal and release are as in
    /// ``withReadLock(timeout:isolation:_:)``.
    ///
    /// ```swift
    /// try await lock.withWriteLock(timeout: .seconds(5)) { fence in
    ///     try await store.save(balance, fence: fence.value)
    /// }
    /// ```
    ///
    /// Nesting (R5): inside a `withWriteLock` of the same lock in the same
    /// task tree, `body` runs at once under the outer lease and gets its
    /// fence. Inside a `withReadLock` of the same lock it throws
    /// `.wouldDeadlock` at once: an upgrade would wait for the outer reader,
    /// which never leaves. Release the read lock first, or take the write
    /// lock from the start.
    ///
    /// - Throws: as ``withReadLock(timeout:isolation:_:)``, and
    ///   `.wouldDeadlock` inside a read hold of the same lock.
    public func withWriteLock<T>(
        timeout: Duration? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Fence) async throws -> T
    ) async throws -> T {
        try await scoped(.write, timeout: timeout, waiting: true) { lease in try await body(lease.fence!) }!
    }

    /// Runs `body` under a read lease if one is granted at once; returns
    /// `nil` without waiting otherwise.
    ///
    /// ```swift
    /// if let cached = try await lock.withReadLockIfAvailable({ try await cache.read() }) { use(cached) }
    /// ```
    ///
    /// - Throws: as ``withReadLock(timeout:isolation:_:)``, never `.timedOut`.
    ///   Nested in a hold of the same lock, it re-enters as
    ///   ``withReadLock(timeout:isolation:_:)`` does.
    public func withReadLockIfAvailable<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T? {
        try await scoped(.read, timeout: nil, waiting: false) { _ in try await body() }
    }

    /// Runs `body` under the write lease if it is granted at once; returns
    /// `nil` without waiting otherwise. A refused writer withdraws its intent
    /// before returning, so it never holds readers up.
    ///
    /// - Throws: as ``withWriteLock(timeout:isolation:_:)``, never `.timedOut`.
    public func withWriteLockIfAvailable<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Fence) async throws -> T
    ) async throws -> T? {
        try await scoped(.write, timeout: nil, waiting: false) { lease in try await body(lease.fence!) }
    }

    /// Runs `body` holding a lease of `mode`, like ``withReadLock(timeout:isolation:_:)``
    /// and ``withWriteLock(timeout:isolation:_:)``, but hands `body` the
    /// ``Lease`` itself (its ``Lease/token`` and ``Lease/fence``), for callers
    /// that must pass the token on, such as the `rwlock` command. `body` must
    /// not release, renew or downgrade the lease: it is renewed and released
    /// for it.
    ///
    /// - Throws: as ``withReadLock(timeout:isolation:_:)``.
    public func withLease<T>(
        _ mode: Lease.Mode,
        timeout: Duration? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T {
        try await scoped(mode, timeout: timeout, waiting: true, body)!
    }

    /// ``withLease(_:timeout:isolation:_:)`` if a lease of `mode` is granted
    /// at once; returns `nil` without waiting otherwise (a refused writer
    /// withdraws its intent first). For callers like `rwlock --no-wait`.
    ///
    /// - Throws: as ``withLease(_:timeout:isolation:_:)``, never `.timedOut`.
    public func withLeaseIfAvailable<T>(
        _ mode: Lease.Mode,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T? {
        try await scoped(mode, timeout: nil, waiting: false, body)
    }

    /// Every scoped form: re-enters the task tree's hold of this lock (R5),
    /// or acquires (waiting, or trying once) and holds; `body` gets the
    /// lease it runs under. Nil only when `waiting` is false and the lock
    /// was not free.
    private func scoped<T>(
        _ mode: Lease.Mode, timeout: Duration?, waiting: Bool, isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T? {
        if let outer = try reentry(mode) { return try await nested(in: outer, body) }
        // A drain waits for this hold, from its acquire to its release.
        try client.lifecycle.enter("a \(mode) lock on \(name)")
        defer { client.lifecycle.leave() }
        guard let lease = try await acquire(mode, timeout: timeout, waiting: waiting) else { return nil }
        return try await hold(lease, body)
    }

    /// R5: runs a nested scoped body under the task tree's hold `outer`,
    /// which is kept (renewed, not released) until the body ends, even if
    /// the body runs in a task that outlives the outer one (``reentry(_:)``
    /// entered it).
    ///
    /// - Throws: the body's error; `.leaseLost` when the outer lease was lost
    ///   while the body ran.
    private func nested<T>(
        in entered: (lease: Lease, canceller: CurrentTaskCanceller), isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T {
        let outer = entered.lease
        defer { outer.leaveNestedBody(entered.canceller) }
        let value = try await body(outer)
        if outer.wasLost {
            throw RWLockError.leaseLost("\(outer.describe), which this nested call re-entered, was lost while it ran")
        }
        return value
    }

    /// Runs `body` while a child task keeps `lease` alive, then releases it.
    ///
    /// R1: if the lease cannot be proven valid any more, the task running
    /// `body` is cancelled and, once `body` returns, `.leaseLost` is thrown in
    /// place of its result.
    private func hold<T>(
        _ lease: Lease,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Lease) async throws -> T
    ) async throws -> T {
        let canceller = CurrentTaskCanceller()
        // Detached: the renewals must not queue behind `body` on its actor.
        let keeper = Task.detached(priority: Task.currentPriority) {
            await LeaseKeeper(lease: lease).run(onLoss: {
                lease.markLost()
                canceller.cancel()
            })
        }
        let outcome: Result<T, any Error>
        do {
            // The body's own spans are children of the hold's.
            let context = lease.holdSpan?.context ?? InstrumentationContext.current
            outcome = .success(try await InstrumentationContext.withValue(context) {
                try await ScopedHolds.$current.withValue(ScopedHolds.current.adding(lease)) {
                    try await body(lease)
                }
            })
        } catch {
            outcome = .failure(error)
        }
        // A nested body in a task that outlived `body` (`Task { }` inherits
        // the hold) still runs under this lease: keep renewing until it ends.
        await lease.closeToNestedBodies()
        keeper.cancel()
        let loss = await keeper.value
        lease.end()
        let heldToTheEnd = (try? await lease.sendRelease()) ?? true
        if loss != nil || !heldToTheEnd { lease.reportLoss() }
        if let loss { throw RWLockError.leaseLost(loss) }
        let value = try outcome.get()
        // The server had no lease to release: it ended while `body` ran,
        // unnoticed by the renewals (a flushed key, a server clock jump).
        if !heldToTheEnd {
            throw RWLockError.leaseLost("\(lease.describe) had already ended on the server when released")
        }
        return value
    }
}
