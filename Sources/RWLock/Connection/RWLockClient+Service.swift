import ServiceLifecycle

extension RWLockClient: Service {
    /// Runs the client as a service of a swift-service-lifecycle
    /// `ServiceGroup`: returns once the group's graceful shutdown (or
    /// cancellation) has drained it, as ``shutdown()`` does.
    ///
    /// ```swift
    /// let client = try RWLockClient(url: nil)
    /// let group = ServiceGroup(configuration: .init(
    ///     services: [client, app], gracefulShutdownSignals: [.sigterm], logger: logger))
    /// try await group.run()
    /// ```
    ///
    /// List the client before the services that use it: a group shuts its
    /// services down in reverse order, so they stop taking requests first.
    public func run() async throws {
        // Returns on graceful shutdown; throws when the task is cancelled,
        // which must drain too.
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Drains the client, then closes it, and returns when all of it is done:
    ///
    /// 1. new acquires fail at once with ``RWLockError`` of kind `.shutdown`;
    /// 2. waiting acquires end with the same error, writers' intents
    ///    withdrawn, so other processes' readers are not held up;
    /// 3. scoped bodies (`withReadLock`, `withWriteLock`, `withLease`) that
    ///    are running finish, their leases renewed meanwhile, and are
    ///    released;
    /// 4. connections close and every thread of the client ends.
    ///
    /// An explicit ``Lease`` (from `acquireRead`/`acquireWrite`) still held
    /// is not waited for and not released: release it before. After the
    /// close its renewals fail, it becomes invalid at its validity deadline,
    /// and the server frees the lock when its lease time runs out.
    /// Safe to call more than once, and from several tasks.
    public func shutdown() async {
        if lifecycle.beginDraining() { subscriber.wakeEveryone() }
        await lifecycle.activeEnded()
        close()
        await threads.allEnded()
    }
}
