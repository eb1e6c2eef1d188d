import Synchronization

/// The writers of each lock in this client: those waiting (their intent is
/// registered on the server) and those holding a write lease.
///
/// A waiter that the script would refuse anyway does not ask the server
/// while one of them is in its way. A held write lease refuses every
/// reader (S2) and every writer (S1). A waiting writer's intent refuses
/// every reader that prefers writers (S3), and every writer that joined the
/// queue after it (first come, first served). Without this, every task of
/// a busy process retries on every release message of the lock and is
/// refused again: on 2 cores, 16 tasks with 10% writes sent about 22
/// refused acquires per write. Grants are still decided by the scripts
/// alone; this only spares attempts the scripts would refuse.
///
/// "Joined after" is the queue's own order: each refusal names the
/// writer's arrival, its score in the queue (server µs when its intent was
/// registered), and the queue serves writers by arrival, ties by token
/// (bytewise). So exactly one of a client's waiting writers, the first of
/// them in the queue, asks the server at a release message. An earlier
/// version judged the order from when attempts were sent and answered, and
/// had to leave writers whose first attempts overlapped to the server, and
/// each of them asked at every release: rwlock-bench's 50/50 row at 64
/// tasks, whose tasks all start at once, sent 13 to 27 scripts per grant,
/// and 3.2 to 5.1 with the queue's order.
///
/// This client's read leases count too, for its writers only: a held read
/// lease refuses every writer (S2), so a writer already in the queue waits
/// without asking while one of them is valid, and the last of them to
/// leave wakes the lock's waiters. Under mixed load in one process, a
/// waiting writer otherwise asked again at each reader's release message
/// and was refused until the last one was gone.
///
/// A writer's acquire that is on its way holds back this client's readers
/// that prefer writers, until its reply is read: whatever the script
/// decides, it leaves a write lease or an intent that refuses them, unless
/// the reader's own attempt happens to reach the server first. Readers sent
/// in that window were mostly refused and then waited for the writer's
/// release anyway: holding them back took rwlock-bench's 90/10 rows at 16
/// tasks from 2.53 to 2.21 scripts per grant.
///
/// Nothing here can hold a waiter back for long if a registration is wrong
/// (an operator's reset emptied the queue, the server's clock stepped
/// back): a lease counts only until its validity ends, a waiting
/// writer only while its acquire loop runs, and a writer held back still
/// sends an acquire every third of its intent's life (see the acquire
/// loop), which also keeps its intent alive. When a writer leaves and no
/// write lease is held, the lock's waiters in this client are woken at once
/// (``Subscriber/announce(_:)``): a lease can end without any message (a
/// lost lease), and a release's message can come before its reply. Because
/// every end of a hold-back is announced (but a lease's validity running
/// out, which the waiter's pause covers), a waiter held back sleeps through
/// release messages (``Subscriber/wait(on:upTo:since:unless:)``).
final class LocalWriters: Sendable {
    /// A waiting writer's place in the queue's order: its arrival, then its
    /// token, as a sorted set orders equal scores (bytewise).
    private struct Place: Comparable {
        var arrival: Int64
        var token: [UInt8]

        static func < (a: Place, b: Place) -> Bool {
            a.arrival != b.arrival ? a.arrival < b.arrival : a.token.lexicographicallyPrecedes(b.token)
        }
    }

    private struct Writers {
        /// Each waiting writer's token and its place in the queue.
        var waiting: [String: Place] = [:]
        /// Each held write lease's token and how long it is valid.
        var holding: [String: ContinuousClock.Instant] = [:]
        /// Each held read lease's token and how long it is valid.
        var reading: [String: ContinuousClock.Instant] = [:]
        /// Writers whose acquire is on its way (sent, reply not yet read).
        var attempting: Set<String> = []

        func isHeld(at now: ContinuousClock.Instant) -> Bool { holding.values.contains { $0 > now } }
        func isRead(at now: ContinuousClock.Instant) -> Bool { reading.values.contains { $0 > now } }
        var isEmpty: Bool { waiting.isEmpty && holding.isEmpty && reading.isEmpty && attempting.isEmpty }
        /// Whether a reader that prefers writers is held back.
        func refusesReadersPreferringWriters(at now: ContinuousClock.Instant) -> Bool {
            !waiting.isEmpty || !attempting.isEmpty || isHeld(at: now)
        }
    }

    private let locks = Mutex<[[UInt8]: Writers]>([:])
    /// Wakes a lock's waiters in this client: the subscriber's announcement.
    private let wake: @Sendable ([UInt8]) -> Void

    init(wake: @escaping @Sendable ([UInt8]) -> Void) {
        self.wake = wake
    }

    /// Whether a reader on `channel`'s lock would be refused by one of this
    /// client's writers: one holds a valid write lease, or, for a reader
    /// that prefers writers, one is waiting or has its acquire on its way.
    func holdBack(readerOn channel: [UInt8], preferringWriters: Bool, at now: ContinuousClock.Instant = .now) -> Bool {
        locks.withLock { locks in
            guard let writers = locks[channel] else { return false }
            return preferringWriters ? writers.refusesReadersPreferringWriters(at: now) : writers.isHeld(at: now)
        }
    }

    /// A writer's acquire is about to be sent; ends with
    /// ``stopAttempting(_:on:)`` once its reply is read and whatever it
    /// left (a lease, a place in the queue) is registered.
    func startAttempting(_ token: String, on channel: [UInt8]) {
        locks.withLock { _ = $0[channel, default: Writers()].attempting.insert(token) }
    }

    /// The writer's acquire was answered (or failed). When nothing else of
    /// this client holds readers that prefer writers back, they look again.
    func stopAttempting(_ token: String, on channel: [UInt8]) {
        remove(token, from: .attempting, on: channel)
    }

    /// Whether the waiting writer `token` would be refused because of
    /// another holder or writer of this client: one holds a valid write or
    /// read lease, or a writer is ahead of it in the queue.
    func holdBack(writer token: String, on channel: [UInt8], at now: ContinuousClock.Instant = .now) -> Bool {
        locks.withLock { locks in
            guard let writers = locks[channel] else { return false }
            if writers.isHeld(at: now) || writers.isRead(at: now) { return true }
            guard let mine = writers.waiting[token] else { return false }
            return writers.waiting.contains { $0.key != token && $0.value < mine }
        }
    }

    /// A writer's acquire was refused: its intent is registered and it
    /// waits, at `arrival` in the queue (the refusal's arrival, server µs).
    /// Each refusal says it again, since an intent that lapsed joins anew:
    /// then the writers it was ahead of may be first now, and look again.
    /// Ends with ``stopWaiting(_:on:)``.
    func startWaiting(_ token: String, on channel: [UInt8], arrival: Int64) {
        let place = Place(arrival: arrival, token: Array(token.utf8))
        let movedBack = locks.withLock { locks -> Bool in
            let before = locks[channel, default: Writers()].waiting.updateValue(place, forKey: token)
            return before.map { $0 < place } ?? false
        }
        if movedBack { wake(channel) }
    }

    /// The writer stopped waiting (granted, gave up, failed). Unless a write
    /// lease still keeps every waiter back, whoever was behind it looks again.
    func stopWaiting(_ token: String, on channel: [UInt8]) {
        remove(token, from: .waiting, on: channel)
    }

    /// A write lease was granted; ends with ``stopHolding(_:on:)``.
    func startHolding(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) {
        locks.withLock { $0[channel, default: Writers()].holding[token] = validUntil }
    }

    /// A read lease was granted; ends with ``stopReading(_:on:)``.
    func startReading(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) {
        locks.withLock { $0[channel, default: Writers()].reading[token] = validUntil }
    }

    /// A held write or read lease was renewed (only moves forward).
    func extend(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) {
        locks.withLock { locks in
            if let current = locks[channel]?.holding[token] { locks[channel]?.holding[token] = max(current, validUntil) }
            if let current = locks[channel]?.reading[token] { locks[channel]?.reading[token] = max(current, validUntil) }
        }
    }

    /// The write lease `token` was downgraded: it counts as a read lease
    /// from now, in one step. Returns whether no write lease holds any
    /// more, when the caller should ``wakeWaiters(on:)`` (the readers
    /// behind it get in; writers stay behind the read lease). Wakes nobody
    /// itself, so the caller may hold its own lock around it.
    func moveToReading(_ token: String, on channel: [UInt8], validUntil: ContinuousClock.Instant) -> Bool {
        locks.withLock { locks -> Bool in
            guard var writers = locks[channel], writers.holding.removeValue(forKey: token) != nil else { return false }
            writers.reading[token] = validUntil
            locks[channel] = writers
            return !writers.isHeld(at: .now)
        }
    }

    /// The lock's waiters in this client look again at once.
    func wakeWaiters(on channel: [UInt8]) { wake(channel) }

    /// The read lease ended here: released, lost or abandoned. When it was
    /// the last valid lease of this client on the lock, the lock's waiters
    /// look again (a writer held back behind it); otherwise nothing they
    /// wait for changed here.
    func stopReading(_ token: String, on channel: [UInt8]) {
        remove(token, from: .reading, on: channel)
    }

    /// The write lease ended here: released, lost or abandoned. Unless
    /// another write lease still keeps every waiter back, whoever was
    /// behind it looks again.
    func stopHolding(_ token: String, on channel: [UInt8]) {
        remove(token, from: .holding, on: channel)
    }

    /// The four kinds of registration a writer or lease has here.
    private enum Registration { case attempting, waiting, holding, reading }

    /// Removes `token`'s registration of one kind, forgetting the lock once
    /// it has none, and wakes the lock's waiters when what is left no longer
    /// holds back whoever that registration held back. Nothing happens for a
    /// registration already gone.
    ///
    /// One switch rather than closures passed in: Swift 6.3's optimizer
    /// crashed ("Found ownership error") on an `inout` closure capturing the
    /// token once this was inlined into the acquire loop, so the package did
    /// not build in release.
    private func remove(_ token: String, from registration: Registration, on channel: [UInt8]) {
        let wakes = locks.withLock { locks -> Bool in
            guard var writers = locks[channel] else { return false }
            let now = ContinuousClock.now
            let removed: Bool, opened: Bool
            switch registration {
            case .attempting:
                removed = writers.attempting.remove(token) != nil
                opened = !writers.refusesReadersPreferringWriters(at: now)
            case .waiting:
                removed = writers.waiting.removeValue(forKey: token) != nil
                opened = !writers.isHeld(at: now)
            case .holding:
                removed = writers.holding.removeValue(forKey: token) != nil
                opened = !writers.isHeld(at: now)
            case .reading:
                removed = writers.reading.removeValue(forKey: token) != nil
                opened = !writers.waiting.isEmpty && !writers.isHeld(at: now) && !writers.isRead(at: now)
            }
            guard removed else { return false }
            locks[channel] = writers.isEmpty ? nil : writers
            return opened
        }
        if wakes { wake(channel) }
    }

    /// Locks with a registered writer or read lease, for tests.
    var count: Int { locks.withLock { $0.count } }

    /// Writers' acquires on their way for `channel`'s lock, for tests.
    func attemptingCount(on channel: [UInt8]) -> Int { locks.withLock { $0[channel]?.attempting.count ?? 0 } }

    /// Waiting writers registered for `channel`'s lock, for tests.
    func waitingCount(on channel: [UInt8]) -> Int { locks.withLock { $0[channel]?.waiting.count ?? 0 } }
}
