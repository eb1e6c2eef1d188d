import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one pub/sub connection of a ``RWLockClient``, shared by every waiter
/// of every lock on that client.
///
/// The scripts PUBLISH on a lock's channel (`rwlock:{name}:channel`) when
/// they release, downgrade or withdraw. A waiter registers for its lock's
/// channel and sleeps until a message arrives there or its bounded pause
/// ends, whichever is first; the pause bounds what a lost message (a
/// reconnect, a release before the subscription took effect) can cost.
///
/// One thread, started at the first wait, owns the connection: it
/// subscribes to the channels that have waiters, unsubscribes from those
/// that have none, and resumes the waiters of a channel when a message comes.
/// Its blocking reads never run on Swift's cooperative pool. Memory is one
/// entry per waiting task, whatever the number of locks.
final class Subscriber: Sendable {
    private enum Entry {
        /// `heldBack`: see ``wait(on:upTo:since:unless:)``.
        case waiting(channel: [UInt8], CheckedContinuation<Void, Never>, heldBack: (@Sendable () -> Bool)?)
        /// Finished before its continuation was registered.
        case finished
    }

    private struct State: ~Copyable {
        var entries: [UInt64: Entry] = [:]
        var channels: [[UInt8]: Set<UInt64>] = [:]
        /// Channels some acquire loop is watching (how many loops each): kept
        /// subscribed between waits, so a release published while an acquire
        /// is in flight is not lost.
        var watched: [[UInt8]: Int] = [:]
        /// Events seen per watched channel (messages, and confirmations of a
        /// new subscription): a waiter that saw a different count at its last
        /// look knows the lock may have changed since.
        var messages: [[UInt8]: UInt64] = [:]
        /// When the last event came on each subscribed channel, for a waiter
        /// that starts watching after its refused acquire was sent: an event
        /// since then may announce the release it is waiting for.
        var lastEvent: [[UInt8]: ContinuousClock.Instant] = [:]
        /// Channels no one waits on any more, kept subscribed until this
        /// instant so a hot lock's next waiter finds its channel active.
        var lingering: [[UInt8]: ContinuousClock.Instant] = [:]
        /// Waiters an event resumed, for tests.
        var wokenByEvents: UInt64 = 0
        var nextID: UInt64 = 0
        var threadStarted = false
        var isShutdown = false
    }

    private let state = Mutex(State())
    /// The server to (re)connect to, given how many connections failed or
    /// broke so far: always the same server, or, on a cluster, the next node
    /// in turn (PUBLISH reaches every node of a cluster, so any will do).
    private let endpoint: @Sendable (_ failures: Int) -> RedisEndpoint
    private let connectTimeout: Duration
    /// A pipe whose read end the thread polls beside the socket, so a new
    /// channel or shutdown wakes it at once. -1 when pipe(2) failed: the
    /// thread then notices changes at its next poll timeout.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// The subscriber connection's `CLIENT SETNAME`, unique per client, so
    /// operators (and tests) can tell it apart in `CLIENT LIST`.
    let connectionName = "rwlock-subscriber-\(UUID().uuidString.prefix(8))"

    /// How long the thread waits for a message before looking for new
    /// channels again, when nothing pokes it.
    private static let pollInterval = Duration.milliseconds(500)
    /// How long a channel stays subscribed after its last waiter left, so
    /// repeated contention on one lock does not pay a SUBSCRIBE each time.
    static let lingerGrace = Duration.seconds(2)

    private let threads: ClientThreads

    init(
        endpoint: @escaping @Sendable (_ failures: Int) -> RedisEndpoint, connectTimeout: Duration,
        threads: ClientThreads = ClientThreads()
    ) {
        self.threads = threads
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        var descriptors: [Int32] = [-1, -1]
        if pipe(&descriptors) == 0 {
            for descriptor in descriptors {
                _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
                _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            }
        } else {
            descriptors = [-1, -1]
        }
        (wakeRead, wakeWrite) = (descriptors[0], descriptors[1])
    }

    deinit {
        if wakeRead >= 0 { close(wakeRead) }
        if wakeWrite >= 0 { close(wakeWrite) }
    }

    /// Starts watching `channel` for an acquire loop whose refused attempt
    /// was sent at `refusedAttemptSent`: the channel stays subscribed until
    /// ``unwatch(_:)``, and the returned count lets a later
    /// ``wait(on:upTo:since:)`` see an event that came in between.
    ///
    /// Subscribe, then look: a release published before the subscription
    /// was active is lost to Redis's pub/sub, so the confirmation of a new
    /// subscription counts as an event (every waiter on it looks again), and
    /// so does any event on an already-subscribed channel since the refused
    /// attempt was sent (the count returned is then one behind).
    func watch(_ channel: [UInt8], refusedAttemptSent: ContinuousClock.Instant) -> UInt64 {
        enum Action { case poke, startThread, nothing }
        let (seen, action) = state.withLock { state -> (UInt64, Action) in
            let isNew = state.watched[channel] == nil && state.channels[channel] == nil
                && state.lingering[channel] == nil
            state.watched[channel, default: 0] += 1
            state.lingering[channel] = nil
            var seen = state.messages[channel, default: 0]
            if let last = state.lastEvent[channel], last >= refusedAttemptSent {
                seen &-= 1
            }
            if !state.threadStarted, !state.isShutdown {
                state.threadStarted = true
                return (seen, .startThread)
            }
            return (seen, isNew ? .poke : .nothing)
        }
        switch action {
        case .poke: poke()
        case .startThread: startThread()
        case .nothing: break
        }
        return seen
    }

    /// How many acquire loops watch `channel` now, for tests.
    func watchers(of channel: [UInt8]) -> Int { state.withLock { $0.watched[channel] ?? 0 } }

    /// Events seen on `channel` so far (messages, confirmations, this
    /// client's announcements), for tests.
    func events(on channel: [UInt8]) -> UInt64 { state.withLock { $0.messages[channel] ?? 0 } }

    /// How many waits an event (a message, a confirmation, an
    /// announcement) has ended so far, for tests.
    var wokenByEvents: UInt64 { state.withLock { $0.wokenByEvents } }

    /// How many waits are registered on `channel` now, for tests.
    func sleepers(on channel: [UInt8]) -> Int { state.withLock { $0.channels[channel]?.count ?? 0 } }

    /// Ends one ``watch(_:)`` of `channel`; the last one leaves it
    /// subscribed for ``lingerGrace``.
    func unwatch(_ channel: [UInt8]) {
        state.withLock { state in
            guard let count = state.watched[channel] else { return }
            if count <= 1 {
                state.watched[channel] = nil
                state.lingering[channel] = .now + Self.lingerGrace
            } else {
                state.watched[channel] = count - 1
            }
        }
    }

    /// Waits until a message arrives on `channel` or `pause` has passed;
    /// returns at once when one came since the count `since` (from
    /// ``watch(_:)``) was read. Returns the count to pass next time.
    ///
    /// While `heldBack` answers true, events do not end the wait: a waiter
    /// that its own client holds back (see ``LocalWriters``) would only be
    /// refused again, and waking every such waiter at every release cost a
    /// busy process most of its CPU (64 tasks on one lock, half of them
    /// writers: about 1.4 ms of client CPU per grant, 0.45 ms without those
    /// wake-ups). Whatever ends a hold-back
    /// announces on the channel (``announce(_:)``), and `heldBack` is asked
    /// again then; a hold-back that ends by time alone (a lease past its
    /// validity) is covered by the pause. It is called under the
    /// subscriber's lock, so it must not call back into the subscriber.
    /// - Throws: `CancellationError` as soon as the task is cancelled.
    @discardableResult
    func wait(
        on channel: [UInt8], upTo pause: Duration, since seen: UInt64? = nil, unless heldBack: (@Sendable () -> Bool)? = nil
    ) async throws -> UInt64? {
        if let seen, heldBack?() != true {
            let current = state.withLock { $0.messages[channel] }
            if let current, current != seen { return current }
        }
        let id = state.withLock { state in
            defer { state.nextID &+= 1 }
            return state.nextID
        }
        // One continuation, resumed by a message, the pause's timer or
        // cancellation, whichever is first: a woken waiter costs one
        // resumption, where a sleeping child task beside it cost three or
        // four thread hand-offs on a busy machine.
        await withTaskCancellationHandler {
            await withCheckedContinuation {
                self.register(id, on: channel, since: seen, heldBack: heldBack, endingAfter: pause, $0)
            }
        } onCancel: {
            self.finish(id)
        }
        // The cancellation handler cannot run any more: drop a `.finished`
        // marker if one was left. (The timer never leaves one.)
        state.withLock { _ = $0.entries.removeValue(forKey: id) }
        try Task.checkCancellation()
        return seen == nil ? nil : state.withLock { $0.messages[channel, default: 0] }
    }

    /// Ends the thread (it closes the connection) and resumes every waiter.
    func shutdown() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isShutdown = true
            let waiting = state.entries.values.compactMap { entry -> CheckedContinuation<Void, Never>? in
                if case .waiting(_, let continuation, _) = entry { return continuation }
                return nil
            }
            state.entries = [:]
            state.channels = [:]
            return waiting
        }
        poke()
        for continuation in waiting { continuation.resume() }
    }

    // MARK: - Waiters' side

    /// Registers waiter `id` on `channel`, or resumes it at once when an
    /// event came since `seen` and it is not held back: checked under the
    /// same lock as the registration, so an event between the caller's
    /// first look at the count and this registration is not missed.
    private func register(
        _ id: UInt64, on channel: [UInt8], since seen: UInt64?, heldBack: (@Sendable () -> Bool)?,
        endingAfter pause: Duration, _ continuation: CheckedContinuation<Void, Never>
    ) {
        enum Action { case resumeNow, poke, startThread, nothing }
        let action = state.withLock { state -> Action in
            if state.isShutdown { return .resumeNow }
            if case .finished = state.entries[id] {
                state.entries[id] = nil
                return .resumeNow
            }
            if let seen, state.messages[channel, default: 0] != seen, heldBack?() != true { return .resumeNow }
            state.entries[id] = .waiting(channel: channel, continuation, heldBack: heldBack)
            let isNewChannel = state.channels[channel] == nil
            state.channels[channel, default: []].insert(id)
            if !state.threadStarted {
                state.threadStarted = true
                return .startThread
            }
            return isNewChannel ? .poke : .nothing
        }
        if case .resumeNow = action { return continuation.resume() }
        // Started once registered, so it cannot fire before the entry exists.
        // Clamped to about 31 years, so the nanoseconds cannot overflow.
        let seconds = min(max(0, pause.components.seconds), 1_000_000_000)
        let nanoseconds = seconds * 1_000_000_000 + max(0, pause.components.attoseconds) / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [self] in
            expire(id)
        }
        switch action {
        case .poke: poke()
        case .startThread: startThread()
        case .resumeNow, .nothing: break
        }
    }

    /// The pause of waiter `id` is over: resumes it if it still waits. Unlike
    /// ``finish(_:)`` it leaves no marker, since the waiter registered
    /// before its timer started and may be long gone.
    private func expire(_ id: UInt64) {
        state.withLock { Self.takeWaiting(id, from: &$0) }?.resume()
    }

    /// Resumes waiter `id` if it is registered, or marks it finished so that
    /// its registration, still to come, resumes at once.
    private func finish(_ id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.entries[id] == nil {
                state.entries[id] = .finished
                return nil
            }
            return Self.takeWaiting(id, from: &state)
        }
        continuation?.resume()
    }

    /// Unregisters waiter `id` and returns its continuation, if it waits.
    private static func takeWaiting(_ id: UInt64, from state: inout State) -> CheckedContinuation<Void, Never>? {
        guard case .waiting(let channel, let continuation, _) = state.entries[id] else { return nil }
        state.entries[id] = nil
        state.channels[channel]?.remove(id)
        if state.channels[channel]?.isEmpty == true { state.channels[channel] = nil }
        return continuation
    }

    /// Ends every wait now, held back or not: the client is draining, and
    /// each acquire loop must see it and stop. Subscriptions stay.
    func wakeEveryone() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let ids = Array(state.entries.keys)
            return ids.compactMap { Self.takeWaiting($0, from: &state) }
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Something in this process changed what `channel`'s lock may grant
    /// (its last local writer left): its waiters look again at once, as for
    /// a message. Nothing is recorded for a channel no one watches.
    func announce(_ channel: [UInt8]) {
        let watched = state.withLock { $0.watched[channel] != nil || $0.channels[channel] != nil }
        if watched { wakeAll(on: channel) }
    }

    /// A message, or the confirmation of a subscription, on `channel`: every
    /// waiter there looks at the lock again, but those their own client
    /// still holds back.
    private func wakeAll(on channel: [UInt8]) {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.messages[channel, default: 0] &+= 1
            state.lastEvent[channel] = .now
            guard let ids = state.channels.removeValue(forKey: channel) else { return [] }
            var woken: [CheckedContinuation<Void, Never>] = [], staying: Set<UInt64> = []
            for id in ids {
                guard case .waiting(_, let continuation, let heldBack) = state.entries[id] else { continue }
                if heldBack?() == true {
                    staying.insert(id)
                } else {
                    state.entries[id] = nil
                    woken.append(continuation)
                }
            }
            if !staying.isEmpty { state.channels[channel] = staying }
            state.wokenByEvents &+= UInt64(woken.count)
            return woken
        }
        for continuation in waiting { continuation.resume() }
    }

    private func poke() {
        guard wakeWrite >= 0 else { return }
        var byte: UInt8 = 1
        // A full pipe already guarantees a wake-up; the result does not matter.
        _ = write(wakeWrite, &byte, 1)
    }

    // MARK: - The subscriber thread

    private func startThread() {
        threads.start(name: "RWLock.subscriber") { [self] in run() }
    }

    private func run() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        var connection: HiredisConnection? = nil
        var subscribed: Set<[UInt8]> = []
        var failures = 0
        while true {
            drainWakePipe()
            let (stop, wanted) = state.withLock { state in
                let now = ContinuousClock.now
                if state.lingering.values.contains(where: { $0 <= now }) {
                    state.lingering = state.lingering.filter { $0.value > now }
                }
                return (state.isShutdown, Set(state.channels.keys).union(state.watched.keys).union(state.lingering.keys))
            }
            if stop {
                connection?.close()
                return
            }
            do {
                if connection?.isBroken ?? true {
                    // Channels dropped while the connection was down are
                    // never unsubscribed: forget their events here.
                    forget(subscribed.subtracting(wanted))
                    subscribed = []
                    connection = nil
                    connection = try HiredisConnection(
                        endpoint: endpoint(failures), connectTimeout: connectTimeout, commandTimeout: .seconds(5))
                    // Its +OK arrives among the pushed replies and is skipped there.
                    try connection!.sendWithoutReply(
                        [Array("CLIENT".utf8), Array("SETNAME".utf8), Array(connectionName.utf8)])
                }
                let open = connection!
                let added = wanted.subtracting(subscribed)
                let dropped = subscribed.subtracting(wanted)
                if !added.isEmpty { try open.sendWithoutReply([Array("SUBSCRIBE".utf8)] + added) }
                if !dropped.isEmpty {
                    try open.sendWithoutReply([Array("UNSUBSCRIBE".utf8)] + dropped)
                    forget(dropped)
                }
                subscribed = wanted
                // A message, or a subscription now active (subscribe, then
                // look): either way the channel's waiters look again.
                if case .array(let parts) = try open.nextPushedReply(waitingUpTo: Self.pollInterval, orUntilReadable: wakeRead),
                    parts.count == 3, parts[0] == .bulk("message") || parts[0] == .bulk("subscribe"),
                    case .bulk(let channel) = parts[1], subscribed.contains(channel)
                {
                    // (A push still in flight for a channel just unsubscribed
                    // is ignored: its records were forgotten.)
                    wakeAll(on: channel)
                }
            } catch {
                // Redis is down or the connection broke: waiters fall back on
                // their bounded pauses; try again after a while.
                connection = nil
                failures &+= 1
                var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, 200)
            }
        }
    }

    /// Drops the event records of channels no longer subscribed.
    private func forget(_ channels: Set<[UInt8]>) {
        state.withLock { state in
            for channel in channels where state.watched[channel] == nil {
                state.messages[channel] = nil
                state.lastEvent[channel] = nil
            }
        }
    }

    private func drainWakePipe() {
        guard wakeRead >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }
}
