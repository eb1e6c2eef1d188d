import Synchronization

/// How a waiter passes the time between two looks at the lock: until the
/// lock's channel announces a release, downgrade or withdrawal (through the
/// client's shared ``Subscriber``), or until a bounded pause ends, whichever
/// comes first.
///
/// The caller's pause is at most about one ``RWLock/Options/retryInterval``
/// (jittered), so a lost message costs at most one interval; no waiter polls
/// faster than that.
///
/// A waiter watches the channel from its first refusal until it stops
/// waiting. A release published while an acquire is in flight (after the
/// script refused it, before the wait began) or before the subscription was
/// active wakes it at once instead of costing a whole re-check interval: see
/// ``Subscriber/watch(_:refusedAttemptSent:)``.
final class Waiter: Sendable {
    let lock: RWLock
    private let seen: Mutex<UInt64?>

    /// Starts watching the lock's channel for an acquire loop whose refused
    /// attempt was sent at `refusedAttemptSent`: an event since then makes
    /// the first ``wait(upTo:)`` return at once.
    init(lock: RWLock, refusedAttemptSent: ContinuousClock.Instant) {
        self.lock = lock
        seen = Mutex(lock.client.subscriber.watch(lock.channel, refusedAttemptSent: refusedAttemptSent))
    }

    deinit { lock.client.subscriber.unwatch(lock.channel) }

    /// Waits for a message on the lock's channel, for `pause` at most; at
    /// once if one came since the last look. While `heldBack` answers true,
    /// messages do not end the wait (see
    /// ``Subscriber/wait(on:upTo:since:unless:)``).
    /// - Throws: `CancellationError` as soon as the task is cancelled.
    func wait(upTo pause: Duration, unless heldBack: (@Sendable () -> Bool)? = nil) async throws {
        guard pause > .zero else { return try Task.checkCancellation() }
        let since = seen.withLock { $0 }
        let next = try await lock.client.subscriber.wait(on: lock.channel, upTo: pause, since: since, unless: heldBack)
        seen.withLock { $0 = next }
    }
}
