import Foundation
import RWLock
import Synchronization

/// R2 inside rwlock, behind the ``Keeper``: nothing of COMMAND may run once
/// another holder can be granted. The keeper, a process of its own, sends
/// COMMAND's group SIGTERM the kill grace before the lease's validity ends
/// (R1: measured from the sending of the last confirmed grant or renewal,
/// less the drift margin, so before the server's deadline) and SIGKILL
/// when it ends, whether rwlock runs, is stopped or is dead. While rwlock
/// runs, this watchdog sends SIGKILL too at that same deadline, so a keeper
/// that is itself stopped at that moment still cannot let COMMAND run on;
/// and a lease found lost (a refused renewal: another holder may be granted
/// at once) gets the group SIGKILL at once, from here.
final class LeaseWatchdog: Sendable {
    let lease: Lease
    let group: ChildProcess
    private let stopping = Mutex(false)

    init(lease: Lease, group: ChildProcess) {
        self.lease = lease
        self.group = group
    }

    /// Whether this watchdog (the validity passed, or the lease was lost)
    /// has stopped COMMAND's group.
    var hasStopped: Bool { stopping.withLock { $0 } }

    /// Watches until cancelled, or until it stops the group.
    func run() async {
        let clock = ContinuousClock()
        while true {
            let deadline = lease.validUntil
            do {
                try await Task.sleep(until: deadline, clock: clock)
            } catch {
                return
            }
            // Renewed meanwhile: watch the new deadline.
            guard lease.validUntil <= deadline else { continue }
            stop()
            return
        }
    }

    /// SIGKILL to the group, now. Once only.
    func stop() {
        guard stopping.withLock({ stopping in
            defer { stopping = true }
            return !stopping
        }) else { return }
        group.signal(SIGKILL)
    }
}
