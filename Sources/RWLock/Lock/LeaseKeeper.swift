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
                try await lease.renew()
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
