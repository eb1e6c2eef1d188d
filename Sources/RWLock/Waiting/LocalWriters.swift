import Synchronization

/// The writers of each lock in this client: those waiting (their intent is
/// registered on the server) and those holding a write lease.
///
/// A reader that would wait anyway does not ask the server while one of
/// them exists: a held write lease refuses every reader (S2), and a waiting
/// writer's intent refuses every reader that prefers writers (S3). Without
/// this, every task of a busy process retries on every release message of
/// the lock and is refused again: on 2 cores, 16 tasks with 10% writes sent
/// about 22 refused acquires per write. Grants are still decided by the
/// scripts alone; this only spares attempts the scripts would refuse.
///
/// Nothing here can hold readers back for long if a registration is wrong:
/// a write lease counts only until its validity ends, and a waiting writer
/// only while its acquire loop runs. When the last writer of a lock leaves,
/// the lock's waiters in this client are woken at once (``Subscriber/announce(_:)``),
/// since a writer's lease can end without any message (a lost lease) and a
/// downgrade's message can come before its reply.
final class LocalWriters: Sendable {
    private struct Writers {
        var waiting = 0
        /// Each held write lease's token and how long it is valid.
        var holding: [String: ContinuousClock.Instant] = [:]
    }

    private let locks = Mutex<[[UInt8]: Writers]>([:])
    /// Wakes a lock's waiters in this client: the subscriber's announcement.
    private let wake: @Sendable ([UInt8]) -> Void

    init(wake: @escaping @Sendable ([UInt8]) -> Void) {
        self.wake = wake
    }

    /// Whether a reader on `channel`'s lock would be refused by one of this
    /// client's writers: one holds a valid write lease, or, for a reader
    /// that prefers writers, one is waiting.
    func holdBack(readerOn channel: [UInt8], preferringWriters: Bool, at now: ContinuousClock.Instant = .now) -> Bool {
        locks.withLock { locks in
            guard let writers = locks[channel] else { return false }
            if preferringWriters && writers.waiting > 0 { return true }
            return writers.holding.values.contains { $0 > now }
        }
    }

    /// A writer's acquire loop was refused and now waits, with its intent
    /// registered; ends with ``stopWaiting(on:)``.
    func startWaiting(on channel: [UInt8]) {
        locks.withLock { $0[channel, default: Writers()].waiting += 1 }
    }

    func stopWaiting(on channel: [UInt8]) {
        update(channel) { $0.waiting -= 1 }
    }

    /// A write lease was granted; ends with ``stopHolding(_:on:)``.
    func startHolding(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) {
        locks.withLock { $0[channel, default: Writers()].holding[token] = validUntil }
    }

    /// A held write lease was renewed (only moves forward).
    func extend(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) {
        locks.withLock { locks in
            if let current = locks[channel]?.holding[token] { locks[channel]?.holding[token] = max(current, validUntil) }
        }
    }

    /// The write lease ended here: released, lost, abandoned or downgraded.
    func stopHolding(_ token: String, on channel: [UInt8]) {
        update(channel) { $0.holding[token] = nil }
    }

    /// Applies `change`; when no writer of the lock is left, forgets it and
    /// wakes its waiters.
    private func update(_ channel: [UInt8], _ change: (inout Writers) -> Void) {
        let emptied = locks.withLock { locks -> Bool in
            guard var writers = locks[channel] else { return false }
            change(&writers)
            if writers.waiting <= 0 && writers.holding.isEmpty {
                locks[channel] = nil
                return true
            }
            locks[channel] = writers
            return false
        }
        if emptied { wake(channel) }
    }

    /// Locks with a registered writer, for tests.
    var count: Int { locks.withLock { $0.count } }
}
