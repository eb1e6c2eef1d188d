/// R5: the scoped holds (`withReadLock`, `withWriteLock`, `withLease`) of the
/// current task tree, so a nested scoped call on the same lock re-enters the
/// outer hold instead of waiting on it.
///
/// A task-local value: child tasks of a body (`async let`, task groups,
/// `Task { }`) see their parent's holds; `Task.detached` starts with none.
/// A lock is identified by its deployment (server or cluster, database
/// included) and its keys (key prefix and name), so two `RWLock` values for
/// the same lock, even on
/// different `RWLockClient`s, are one lock here. Explicit ``Lease``s are not
/// recorded: they may be handed between tasks.
struct ScopedHolds: Sendable {
    private struct Identity: Hashable, Sendable {
        let deployment: RedisDeployment
        let writerKey: [UInt8]

        init(_ lock: RWLock) {
            deployment = lock.client.deployment
            writerKey = lock.keys[0]
        }
    }

    private var leases: [Identity: Lease] = [:]

    @TaskLocal static var current = ScopedHolds()

    /// The lease the task tree holds on `lock`, if its hold has not ended.
    /// An ended one belongs to a body that has returned (seen from a task
    /// that outlived it), which holds nothing any more.
    func lease(on lock: RWLock) -> Lease? {
        // Most calls hold nothing: skip hashing the deployment.
        guard !leases.isEmpty, let lease = leases[Identity(lock)], !lease.hasEnded else { return nil }
        return lease
    }

    /// These holds and `lease`.
    func adding(_ lease: Lease) -> ScopedHolds {
        var holds = self
        holds.leases[Identity(lease.lock)] = lease
        return holds
    }
}

extension RWLock {
    /// R5: the hold a scoped call for `mode` re-enters, registered as one of
    /// its nested bodies (the caller leaves it when done); nil when the task
    /// tree holds nothing of this lock, or its hold is being released, and
    /// the call must acquire.
    ///
    /// - Throws: `.wouldDeadlock` for write inside read (the outer reader
    ///   would wait for itself to leave); `.leaseLost` when the outer hold's
    ///   lease can no longer be proven valid.
    func reentry(_ mode: Lease.Mode) throws -> (lease: Lease, canceller: CurrentTaskCanceller)? {
        guard let outer = ScopedHolds.current.lease(on: self) else { return nil }
        if mode == .write && outer.mode == .read {
            throw RWLockError.wouldDeadlock(
                "lock \(name) is held for reading by this task, and a write lock here would wait for that "
                    + "read lease to end, which it never does (an upgrade deadlocks); release the read lock "
                    + "first and then take the write lock, or take the write lock from the start (it covers "
                    + "reading)")
        }
        guard outer.isValid else {
            throw RWLockError.leaseLost("\(outer.describe), which this nested call would re-enter, is no longer valid")
        }
        return outer.enterNestedBody().map { (outer, $0) }
    }

    /// R5 for the explicit `acquireRead`/`acquireWrite`: a new lease would
    /// wait on the task's own scoped hold (always for a write; for a read
    /// once a writer waits), so it is refused at once.
    func refuseExplicitAcquireInsideHold(_ mode: Lease.Mode) throws {
        guard let outer = ScopedHolds.current.lease(on: self) else { return }
        throw RWLockError.wouldDeadlock(
            "this task already holds \(outer.describe) through a scoped call, and acquire\(mode == .write ? "Write" : "Read")() "
                + "would wait on it; use withReadLock/withWriteLock inside the hold (they re-enter it), or "
                + "acquire before or after the scoped call")
    }
}
