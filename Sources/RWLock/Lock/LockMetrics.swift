import CoreMetrics

/// What a lock reports through swift-metrics, to whichever backend the
/// program bootstrapped (or the factory passed to `RWLock.init`).
///
/// | name | type | dimensions | what |
/// |---|---|---|---|
/// | `rwlock_acquire_wait` | timer (ns) | `mode`, `outcome` | from the call to its end: `granted`, `timed_out`, `cancelled`, `refused` (not granted at once by an `…IfAvailable` form or `rwlock --no-wait`), `failed` (any error) |
/// | `rwlock_hold` | timer (ns) | `mode` | from grant to release or loss |
/// | `rwlock_leases_lost` | counter | `mode` | leases that ended before their holder was done |
/// | `rwlock_renewals_failed` | counter | `mode` | renewals that did not extend the lease (refused, transport error, not replicated) |
/// | `rwlock_holders` | meter | `mode` | leases held now by this process |
/// | `rwlock_waiters` | meter | `mode` | acquires waiting now (refused once, still trying) |
///
/// `mode` is `read` or `write`: the mode granted (a downgraded lease is
/// counted as `write` to its end). With ``RWLock/Options/metricsIncludeLockName``
/// every metric also carries `lock` = the lock's name; off by default, as
/// each name is a time series of its own.
struct LockMetrics: Sendable {
    enum Outcome: String, CaseIterable, Hashable {
        case granted
        case timedOut = "timed_out"
        case cancelled
        case refused
        case failed
    }

    private struct PerMode: Sendable {
        let waits: [Outcome: Timer]
        let hold: Timer
        let leasesLost: Counter
        let renewalsFailed: Counter
        let holders: Meter
        let waiters: Meter
    }

    private let read: PerMode
    private let write: PerMode

    init(lockName: String, includeName: Bool, factory: any MetricsFactory) {
        func perMode(_ mode: String) -> PerMode {
            let base = [("mode", mode)] + (includeName ? [("lock", lockName)] : [])
            return PerMode(
                waits: Dictionary(uniqueKeysWithValues: Outcome.allCases.map {
                    ($0, Timer(label: "rwlock_acquire_wait", dimensions: base + [("outcome", $0.rawValue)], factory: factory))
                }),
                hold: Timer(label: "rwlock_hold", dimensions: base, factory: factory),
                leasesLost: Counter(label: "rwlock_leases_lost", dimensions: base, factory: factory),
                renewalsFailed: Counter(label: "rwlock_renewals_failed", dimensions: base, factory: factory),
                holders: Meter(label: "rwlock_holders", dimensions: base, factory: factory),
                waiters: Meter(label: "rwlock_waiters", dimensions: base, factory: factory))
        }
        read = perMode("read")
        write = perMode("write")
    }

    private func metrics(_ mode: Lease.Mode) -> PerMode { mode == .read ? read : write }

    func acquireEnded(_ mode: Lease.Mode, _ outcome: Outcome, after wait: Duration) {
        metrics(mode).waits[outcome]!.recordNanoseconds(wait.nanoseconds)
    }

    /// One more waiter (`change` +1) or one fewer (-1).
    func waiting(_ mode: Lease.Mode, _ change: Int) {
        // Meters take only positive amounts: the sign picks the method.
        if change >= 0 { metrics(mode).waiters.increment(by: Double(change)) } else {
            metrics(mode).waiters.decrement(by: Double(-change))
        }
    }

    func granted(_ mode: Lease.Mode) { metrics(mode).holders.increment() }

    func ended(_ mode: Lease.Mode, heldFor hold: Duration) {
        let metrics = metrics(mode)
        metrics.holders.decrement()
        metrics.hold.recordNanoseconds(hold.nanoseconds)
    }

    func leaseLost(_ mode: Lease.Mode) { metrics(mode).leasesLost.increment() }

    func renewalFailed(_ mode: Lease.Mode) { metrics(mode).renewalsFailed.increment() }
}

extension Duration {
    /// Whole nanoseconds, saturating: the unit swift-metrics' timers take.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : scaled.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}
