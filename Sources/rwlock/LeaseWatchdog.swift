import Foundation
import RWLock
import Synchronization

/// R2 for `rwlock`: nothing of COMMAND may run once another holder can be
/// granted. The lease's validity (R1: measured from the sending of the last
/// confirmed grant or renewal, less the drift margin, so it ends before the
/// server's deadline) is the line. When no renewal has moved it by
/// `validUntil - grace`, COMMAND's whole process group gets SIGTERM; at
/// `validUntil` it gets SIGKILL. A renewal that comes between the two is
/// too late: the job was already told to stop.
final class LeaseWatchdog: Sendable {
    let lease: Lease
    let group: ChildProcess
    /// Time between SIGTERM and SIGKILL; zero sends SIGKILL alone.
    let grace: Duration
    private let stopping = Mutex(false)

    init(lease: Lease, group: ChildProcess, grace: Duration) {
        self.lease = lease
        self.group = group
        self.grace = grace
    }

    /// Whether the watchdog (or a lost lease) has stopped COMMAND's group.
    var hasStopped: Bool { stopping.withLock { $0 } }

    /// Watches until cancelled, or until it stops the group.
    func run() async {
        let clock = ContinuousClock()
        while true {
            let deadline = lease.validUntil
            do {
                try await Task.sleep(until: deadline - grace, clock: clock)
            } catch {
                return
            }
            // Renewed meanwhile: watch the new deadline.
            guard lease.validUntil <= deadline else { continue }
            stop(killingBy: deadline)
            return
        }
    }

    /// Stops the group: SIGTERM now (unless the grace is zero), SIGKILL at
    /// `deadline` or after the grace, whichever comes first. A lost lease (a
    /// refused renewal: another holder may be granted at once) passes now,
    /// for SIGKILL alone. Once only.
    func stop(killingBy deadline: ContinuousClock.Instant) {
        guard stopping.withLock({ stopping in
            defer { stopping = true }
            return !stopping
        }) else { return }
        let killAt = min(deadline, ContinuousClock.now + grace)
        if ContinuousClock.now < killAt { group.signal(SIGTERM) }
        group.killGroup(at: killAt)
    }
}
