import Synchronization

/// Renews a lease every third of its length while a scoped body runs, and
/// watches its validity (R1).
struct LeaseKeeper: Sendable {
    let lease: Lease

    /// Renews until cancelled. Calls `onLoss` and returns why when the lease
    /// can no longer be proven valid: the server refused a renewal, or
    /// ``Lease/validUntil`` passed (renewals failing, hard cap reached).
    /// Returns nil when cancelled first.
    func run(onLoss: @Sendable () -> Void) async -> String? {
        let clock = ContinuousClock()
        let options = lease.lock.options
        let interval = options.lease / 3
        var nextRenewal = clock.now + interval
        while !Task.isCancelled {
            do {
                try await Task.sleep(until: min(nextRenewal, lease.validUntil), clock: clock)
            } catch {
                return nil
            }
            if clock.now >= lease.validUntil {
                onLoss()
                return "\(lease.describe) passed its validity deadline before it could be renewed"
                    + (options.hardCap.map { " (hard cap \($0))" } ?? "")
            }
            guard clock.now >= nextRenewal else { continue }
            do {
                guard try await renewBeforeValidityEnds() else {
                    onLoss()
                    return "\(lease.describe) passed its validity deadline while a renewal was still unanswered"
                }
                nextRenewal = clock.now + interval
            } catch let error as RWLockError where error.kind == .leaseLost {
                onLoss()
                // The caller wraps this in its own leaseLost: pass the detail,
                // not the error's full sentence, or it reads twice.
                return "a renewal of \(lease.describe) was refused: the server no longer holds it (it expired or was released)"
            } catch is CancellationError {
                return nil
            } catch {
                // A transport error: the lease is still valid until
                // validUntil; try again soon, and lose it only past that.
                nextRenewal = clock.now + min(interval, options.retryInterval)
            }
        }
        return nil
    }

    /// Renews, but stops waiting for the answer once ``Lease/validUntil``
    /// passes: a reply can take a whole command timeout (longer on a cluster
    /// riding out a failover), and R1 forbids trusting the lease meanwhile.
    /// The renewal itself runs on to its end in the background.
    ///
    /// - Returns: true when renewed, false when validity ran out first.
    /// - Throws: what ``Lease/renew()`` throws, or `CancellationError`.
    private func renewBeforeValidityEnds() async throws -> Bool {
        let lease = lease
        let race = FirstOf<Result<Void, any Error>?>()
        Task {
            do {
                try await lease.renew()
                race.offer(.success(()))
            } catch {
                race.offer(.failure(error))
            }
        }
        let deadline = Task {
            try? await Task.sleep(until: lease.validUntil, clock: ContinuousClock())
            race.offer(nil)
        }
        defer { deadline.cancel() }
        let outcome = await withTaskCancellationHandler {
            await race.value
        } onCancel: {
            race.offer(.failure(CancellationError()))
        }
        guard let outcome else { return false }
        try outcome.get()
        return true
    }
}

/// The first of several values offered from different tasks; later offers
/// are dropped.
private final class FirstOf<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiter: CheckedContinuation<Value, Never>?
    }
    private let state = Mutex(State())

    func offer(_ value: Value) {
        let waiter = state.withLock { state -> CheckedContinuation<Value, Never>? in
            guard state.value == nil else { return nil }
            state.value = value
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: value)
    }

    var value: Value {
        get async {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Value? in
                    if let value = state.value { return value }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}

/// Cancels the task that created it, from another task.
///
/// `@unchecked Sendable` because `UnsafeCurrentTask` is not: it is only used
/// while the task is alive, which `hold` guarantees by awaiting the keeper
/// task before returning.
final class CurrentTaskCanceller: @unchecked Sendable {
    private let task: UnsafeCurrentTask?

    init() { task = withUnsafeCurrentTask { $0 } }

    func cancel() { task?.cancel() }
}
