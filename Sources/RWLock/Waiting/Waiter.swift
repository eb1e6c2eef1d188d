/// How a waiter passes the time between two looks at the lock: until the
/// lock's channel announces a release, downgrade or withdrawal (through the
/// client's shared ``Subscriber``), or until a bounded pause ends, whichever
/// comes first.
///
/// The caller's pause is at most about one ``RWLock/Options/retryInterval``
/// (jittered), so a lost message costs at most one interval; no waiter polls
/// faster than that.
struct Waiter: Sendable {
    let lock: RWLock

    /// Waits for a message on the lock's channel, for `pause` at most.
    /// - Throws: `CancellationError` as soon as the task is cancelled.
    func wait(upTo pause: Duration) async throws {
        guard pause > .zero else { return try Task.checkCancellation() }
        try await lock.client.subscriber.wait(on: lock.channel, upTo: pause)
    }
}
