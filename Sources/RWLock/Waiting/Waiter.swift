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
/// A waiter watches the channel from before its first acquire until it stops
/// waiting, so a release published while an acquire is in flight (after the
/// script refused it, before the wait began) wakes it at once instead of
/// costing a whole re-check interval.
final class Waiter: Sendable {
    let lock: RWLock
    private let seen: Mutex<UInt64?>

    init(lock: RWLock) {
        self.lock = lock
        seen = Mutex(lock.client.subscriber.watch(lock.channel))
    }

    deinit { lock.client.subscriber.unwatch(lock.channel) }

    /// Waits for a message on the lock's channel, for `pause` at most; at
    /// once if one came since the last look.
    /// - Throws: `CancellationError` as soon as the task is cancelled.
    func wait(upTo pause: Duration) async throws {
        guard pause > .zero else { return try Task.checkCancellation() }
        let since = seen.withLock { $0 }
        let next = try await lock.client.subscriber.wait(on: lock.channel, upTo: pause, since: since)
        seen.withLock { $0 = next }
    }
}
