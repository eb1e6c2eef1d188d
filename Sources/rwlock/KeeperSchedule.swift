/// The keeper's decisions, apart from its I/O: when COMMAND's group gets
/// SIGTERM and SIGKILL, given the deadlines rwlock confirmed and whether
/// rwlock is still there. All times are nanoseconds of ``KeeperClock``.
struct KeeperSchedule: Equatable {
    enum Action: Equatable {
        case terminate
        case kill
    }

    /// SIGTERM comes this long before the kill; zero sends SIGKILL alone.
    let grace: Int64
    /// When the group gets SIGKILL: the last validity deadline rwlock
    /// confirmed, or sooner once rwlock is gone.
    private(set) var killAt: Int64
    /// SIGTERM was sent: the kill is then fixed, and a renewal confirmed
    /// later does not move it (the job was already told to stop, as rwlock
    /// itself has always done).
    private(set) var terminated = false
    private(set) var killed = false

    init(grace: Int64, validUntil: Int64) {
        self.grace = max(0, grace)
        self.killAt = validUntil
    }

    /// rwlock confirmed a renewal. Deadlines never move back.
    mutating func confirm(validUntil: Int64) {
        guard !terminated, !killed else { return }
        killAt = max(killAt, validUntil)
    }

    /// rwlock is gone (its end of the orders pipe closed without "stand
    /// down"): nothing will renew the lease, and nobody else will stop the
    /// group. It gets SIGTERM now and SIGKILL a grace later, never past the
    /// deadline already confirmed.
    mutating func rwlockGone(at now: Int64) {
        guard !killed else { return }
        killAt = min(killAt, now + grace)
    }

    /// What is due at `now`, in order; each action is returned once.
    mutating func due(at now: Int64) -> [Action] {
        guard !killed else { return [] }
        if now >= killAt {
            killed = true
            return [.kill]
        }
        if !terminated, now >= killAt - grace {
            terminated = true
            return [.terminate]
        }
        return []
    }

    /// When ``due(at:)`` next has something to do; nil once all is done.
    var nextEvent: Int64? {
        if killed { return nil }
        return terminated ? killAt : killAt - grace
    }
}
