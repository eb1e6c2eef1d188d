import Foundation
import Logging
import Synchronization
import Tracing

extension RWLock {
    /// Waits for a read lease and returns it; the caller renews and releases
    /// it (see ``Lease``). Prefer ``withReadLock(timeout:isolation:_:)``,
    /// which does both.
    ///
    /// - Parameter timeout: how long to wait (positive); `nil` waits until
    ///   granted or cancelled.
    /// - Throws: ``RWLockError`` `.timedOut`, `.cancelled` (the task was
    ///   cancelled while waiting; nothing is held), `.invalidConfiguration`
    ///   for a non-positive timeout (before any traffic), `.server` when a
    ///   lock key holds something the scripts did not write, `.notReplicated`
    ///   when ``Options/replicatedGrants`` is set and too few replicas
    ///   confirmed the grant (it was released unused), and transport errors
    ///   (`.connection`, `.shutdown`); `.unsafeServer` for a server that may
    ///   evict the lock's keys (R3; see ``Options/allowEviction``);
    ///   `.wouldDeadlock`, at once, when the task already holds this lock
    ///   through a scoped call (R5): a new lease would wait on that hold.
    ///   Nest `withReadLock`/`withWriteLock` instead, which re-enter.
    public func acquireRead(timeout: Duration? = nil) async throws -> Lease {
        try refuseExplicitAcquireInsideHold(.read)
        return try await acquire(.read, timeout: timeout, waiting: true)!
    }

    /// Waits for the write lease and returns it, with its ``Lease/fence``.
    /// While waiting, the writer's *intent* keeps new readers out (with the
    /// default ``Preference/writers``); a writer that times out or is
    /// cancelled withdraws its intent at once.
    ///
    /// - Parameter timeout: how long to wait (positive); `nil` waits until
    ///   granted or cancelled.
    /// - Throws: as ``acquireRead(timeout:)``.
    public func acquireWrite(timeout: Duration? = nil) async throws -> Lease {
        try refuseExplicitAcquireInsideHold(.write)
        return try await acquire(.write, timeout: timeout, waiting: true)!
    }

    /// Tries for a lease until granted, the timeout passes, or the task is
    /// cancelled; with `waiting` false, tries once and returns nil when not
    /// granted at once (a refused writer withdraws its intent before that).
    func acquire(_ mode: Lease.Mode, timeout: Duration?, waiting: Bool) async throws -> Lease? {
        if let timeout, timeout <= .zero {
            throw RWLockError.invalidConfiguration("the timeout must be positive, got \(timeout); pass nil to wait without limit")
        }
        try client.lifecycle.enter("acquiring a \(mode) lock on \(name)")
        defer { client.lifecycle.leave() }
        let started = ContinuousClock.now
        let span = tracing.startAcquire(mode)
        var attempts = 0
        do {
            let lease = try await tryUntilGranted(mode, timeout: timeout, waiting: waiting, attempts: &attempts)
            let outcome: LockMetrics.Outcome = lease == nil ? .refused : .granted
            metrics.acquireEnded(mode, outcome, after: .now - started)
            tracing.endAcquire(span, outcome: outcome, attempts: attempts, fence: lease?.fence, error: nil)
            lease?.startHolding()
            return lease
        } catch {
            let outcome: LockMetrics.Outcome =
                switch (error as? RWLockError)?.kind {
                case .timedOut: .timedOut
                case .cancelled: .cancelled
                default: .failed
                }
            metrics.acquireEnded(mode, outcome, after: .now - started)
            tracing.endAcquire(span, outcome: outcome, attempts: attempts, fence: nil, error: error)
            throw error
        }
    }

    /// ``acquire(_:timeout:waiting:)`` without the metrics.
    private func tryUntilGranted(
        _ mode: Lease.Mode, timeout: Duration?, waiting: Bool, attempts: inout Int
    ) async throws -> Lease? {
        // R6: a missing permission is refused here, before anything changes.
        try await checkPermissionsOnce()
        let clock = ContinuousClock()
        // Counted among the lock's waiters from the first pause to the end.
        var countedWaiting = false
        defer { if countedWaiting { metrics.waiting(mode, -1) } }
        func startWaiting() {
            if !countedWaiting { metrics.waiting(mode, +1) }
            countedWaiting = true
        }
        let deadline = timeout.map { clock.now + $0 }
        func timedOut(_ detail: String = "") -> RWLockError {
            .timedOut("lock \(name) was not granted for \(mode == .write ? "writing" : "reading") within \(timeout!)\(detail)")
        }
        let token = Array(makeToken().utf8)
        let script: LockScript = mode == .read ? .acquireRead : .acquireWrite
        let arguments: [[UInt8]] =
            switch mode {
            case .read:
                [token, options.lease.millisecondArgument,
                 Array((options.preference == .writers ? "prefer-writers" : "prefer-readers").utf8), capArgument]
            case .write:
                [token, options.lease.millisecondArgument, options.intent.millisecondArgument, capArgument]
            }
        // Whether the server may hold an intent (or, after a transport
        // error, even a grant) for this token that must be cleaned up.
        var mayHoldSomething = false
        // What earlier attempts left (a writer's intent), for when this
        // attempt's command is known never to have run.
        var heldBeforeThisAttempt = false
        // Made at the first refusal, not before: an uncontended acquire should
        // not touch the subscriber. From then on the waiter watches the channel
        // across every retry, so a release during an acquire is not missed.
        var waiter: Waiter?
        // A refused writer counts among this client's waiting writers until
        // it stops waiting: the client's readers, and its writers that
        // joined the queue later, then wait without asking.
        let tokenText = String(decoding: token, as: UTF8.self)
        var registeredAsWaitingWriter = false
        defer { if registeredAsWaitingWriter { client.localWriters.stopWaiting(tokenText, on: channel) } }
        // A writer held back still sends an acquire every third of its
        // intent's life, so its intent and its place in the queue cannot
        // lapse while it waits.
        var lastSent: ContinuousClock.Instant? = nil
        let refreshIntentEvery = options.intent / 3
        // A writer's acquire on its way holds this client's readers back
        // (see LocalWriters) until what its reply left is registered.
        var attempting = false
        func endAttempt() {
            if attempting { client.localWriters.stopAttempting(tokenText, on: channel) }
            attempting = false
        }
        defer { endAttempt() }
        /// Waits for a message on the lock's channel (or this client's word
        /// that a writer left) for `limit` at most, within the timeout.
        func waitForAChange(upTo limit: Duration, refusedAttemptSent: ContinuousClock.Instant) async throws {
            try stopIfDraining()
            let now = clock.now
            if let deadline, now >= deadline {
                logger.debug("timed out waiting", metadata: ["rwlock.mode": "\(mode)"])
                throw timedOut()
            }
            var pause = limit
            if let deadline { pause = min(pause, deadline - now) }
            if waiter == nil { waiter = Waiter(lock: self, refusedAttemptSent: refusedAttemptSent) }
            startWaiting()
            // Messages do not wake this waiter while its own client holds it
            // back: it would only be refused again (asked as the loop's
            // first look does, with what this loop knows now).
            let (registered, sentLast) = (registeredAsWaitingWriter, lastSent)
            try await waiter!.wait(upTo: pause) { [self] in
                heldBackByThisClientsWriters(
                    mode, token: tokenText, registered: registered,
                    refreshDue: sentLast.map { clock.now - $0 >= refreshIntentEvery } ?? true)
            }
        }
        do {
            while true {
                if Task.isCancelled { throw CancellationError() }
                try stopIfDraining()
                if waiting, heldBackByThisClientsWriters(
                    mode, token: tokenText, registered: registeredAsWaitingWriter,
                    refreshDue: lastSent.map { clock.now - $0 >= refreshIntentEvery } ?? true)
                {
                    // A lease of this client that refuses this waiter is
                    // held, or a writer of this client is ahead of it: the
                    // script would refuse it, so wait for that one to leave
                    // (or a message) without asking.
                    let now = clock.now
                    if waiter == nil {
                        // Watch, then look again: a writer of this client that
                        // left between the look above and the watch announced
                        // it to no one, and this waiter would sleep its pause.
                        waiter = Waiter(lock: self, refusedAttemptSent: now)
                        continue
                    }
                    var limit = options.retryInterval.jittered()
                    if mode == .write, let lastSent { limit = min(limit, lastSent + refreshIntentEvery - now) }
                    logger.trace("waiting behind a lease or writer of this client", metadata: ["rwlock.mode": "\(mode)"])
                    try await waitForAChange(upTo: limit, refusedAttemptSent: now)
                    continue
                }
                // R1: the lease is measured from the moment of sending.
                let sent = clock.now
                lastSent = sent
                acquiresSent.add(1, ordering: .relaxed)
                attempts += 1
                // Only a writer that waits: one that tries once (IfAvailable)
                // is often polling, and must not keep readers out between polls.
                if mode == .write && waiting && !attempting {
                    client.localWriters.startAttempting(tokenText, on: channel)
                    attempting = true
                }
                heldBeforeThisAttempt = mayHoldSomething
                mayHoldSomething = true
                // On a cluster, a command that cannot run yet (failover,
                // migration) is retried no longer than this acquire may wait.
                let reply: RESPValue, unconfirmed: String?
                do {
                    (reply, unconfirmed) = try await ClusterRouter.$callerDeadline.withValue(deadline) {
                        try await runGranting(script, arguments: arguments)
                    }
                } catch let error as RWLockError where error.kind == .quarantined {
                    // R4: nothing ran; wait the quarantine out within the timeout.
                    endAttempt()
                    mayHoldSomething = heldBeforeThisAttempt
                    if !waiting {
                        logger.debug("not available: \(error)", metadata: ["rwlock.mode": "\(mode)"])
                        return nil
                    }
                    let now = clock.now
                    if let deadline, now >= deadline {
                        throw timedOut(". \(error)")
                    }
                    var pause = error.quarantineRemaining ?? options.retryInterval
                    if let deadline { pause = min(pause, deadline - now) }
                    logger.debug("server in restart quarantine; waiting", metadata: [
                        "rwlock.mode": "\(mode)", "rwlock.wait_ms": "\(pause.wholeMilliseconds)",
                    ])
                    startWaiting()
                    try await Task.sleep(for: pause)
                    continue
                }
                let answer = try ScriptReply.acquisition(reply, from: script)
                let (granted, milliseconds, third) = (answer.granted, answer.milliseconds, answer.third)
                mayHoldSomething = mode == .write
                var hint = Duration.milliseconds(max(milliseconds, 1))
                if granted {
                    let lease = Lease(
                        lock: self, token: tokenText, mode: mode,
                        fence: mode == .write ? Fence(UInt64(max(third, 0))) : nil,
                        validUntil: options.validity(sent: sent, grantedMilliseconds: milliseconds))
                    // Before this loop stops counting as a waiting writer, so
                    // this client's readers stay behind it without a gap.
                    lease.joinLocalHolders()
                    endAttempt()
                    mayHoldSomething = false
                    if let unconfirmed {
                        // A failover now could hand the lock to someone else:
                        // this grant must not be used.
                        logger.debug("grant not confirmed by replicas; releasing it unused", metadata: ["rwlock.token": .string(lease.token)])
                        await releaseQuietly(lease)
                        throw RWLockError.notReplicated(
                            "lock \(name) was granted for \(mode == .write ? "writing" : "reading") but \(unconfirmed); the grant was released unused")
                    }
                    logger.debug("granted", metadata: [
                        "rwlock.mode": "\(mode)", "rwlock.token": .string(lease.token),
                        "rwlock.lease_ms": "\(milliseconds)", "rwlock.fence": "\(third)",
                    ])
                    if Task.isCancelled {
                        await releaseQuietly(lease)
                        throw CancellationError()
                    }
                    if !client.lifecycle.isRunning {
                        // Granted as the client began to drain: not used.
                        await releaseQuietly(lease)
                        try stopIfDraining()
                    }
                    if options.isWorthUsing(validUntil: lease.validUntil, at: clock.now) { return lease }
                    // R1: the reply came back too late to leave useful time
                    // (a pause, a slow network): hand the lease back unused.
                    logger.debug("grant arrived too late to use; releasing it unused", metadata: ["rwlock.token": .string(lease.token)])
                    await releaseQuietly(lease)
                    if !waiting { return nil }
                    hint = .zero
                } else if !waiting {
                    if mode == .write { await withdrawQuietly(token) }
                    logger.trace("not available", metadata: ["rwlock.mode": "\(mode)"])
                    return nil
                } else {
                    logger.trace("refused; waiting", metadata: [
                        "rwlock.mode": "\(mode)", "rwlock.wait_hint_ms": "\(milliseconds)",
                        "rwlock.queue_position": "\(third)",
                    ])
                }
                if mode == .write {
                    if granted {
                        // A grant that came too late to use took this writer
                        // out of the queue; its next refusal joins it anew.
                        if registeredAsWaitingWriter { client.localWriters.stopWaiting(tokenText, on: channel) }
                        registeredAsWaitingWriter = false
                    } else if let arrival = answer.arrival {
                        // Every refusal: an intent that lapsed joined anew.
                        client.localWriters.startWaiting(tokenText, on: channel, arrival: arrival)
                        registeredAsWaitingWriter = true
                    }
                }
                endAttempt()
                try await waitForAChange(upTo: min(options.retryInterval.jittered(), hint), refusedAttemptSent: sent)
            }
        } catch {
            if let failure = error as? RWLockError, failure.commandDidNotRun {
                mayHoldSomething = heldBeforeThisAttempt
            }
            if mayHoldSomething {
                if mode == .write { await withdrawQuietly(token) }
                // A transport error leaves unknown whether the acquire ran.
                if !(error is CancellationError) && (error as? RWLockError)?.kind != .shutdown {
                    await releaseQuietly(token: token)
                }
            }
            if error is CancellationError {
                throw RWLockError.cancelled("the task stopped waiting for lock \(name)")
            }
            throw error
        }
    }

    /// Throws ``RWLockError/draining(_:)`` once the client began to drain:
    /// a waiting acquire ends there, its intent withdrawn by the caller.
    private func stopIfDraining() throws {
        if !client.lifecycle.isRunning {
            throw RWLockError.draining("lock \(name)'s waiting acquire ended")
        }
    }

    /// Whether a waiter of `mode` would be refused because of a writer of
    /// this client, or for a writer also a read lease of this client (see
    /// ``LocalWriters``), so it should wait without asking.
    /// A writer is held back only once its own intent is registered, and
    /// not when that intent is due for a refresh.
    private func heldBackByThisClientsWriters(_ mode: Lease.Mode, token: String, registered: Bool, refreshDue: Bool) -> Bool {
        switch mode {
        case .read:
            client.localWriters.holdBack(readerOn: channel, preferringWriters: options.preference == .writers)
        case .write:
            registered && !refreshDue && client.localWriters.holdBack(writer: token, on: channel)
        }
    }

    /// `tokenPrefix` and a ``LeaseToken``: unique per lease, readable in Redis.
    func makeToken() -> String {
        options.tokenPrefix.isEmpty ? LeaseToken.next() : "\(options.tokenPrefix):\(LeaseToken.next())"
    }

    private var capArgument: [UInt8] {
        options.hardCap.map(\.millisecondArgument) ?? Array("0".utf8)
    }

    /// Best-effort release that runs even when this task is cancelled; a
    /// failure leaves the lease to expire.
    func releaseQuietly(_ lease: Lease) async {
        lease.end()
        _ = try? await lease.sendRelease()
    }

    private func releaseQuietly(token: [UInt8]) async {
        let (client, keys) = (client, keys)
        _ = try? await client.ignoringCancellation {
            try await ClusterRouter.$callerDeadline.withValue(Self.cleanupDeadline(client)) {
                try await client.run(.release, keys: keys, arguments: [token])
            }
        }
    }

    /// Best-effort cleanups wait out a cluster's trouble no longer than two
    /// command timeouts: what they would remove expires on its own anyway.
    static func cleanupDeadline(_ client: RWLockClient) -> ContinuousClock.Instant {
        ContinuousClock.now + client.commandTimeout * 2
    }

    /// withdraw.lua, ignoring this task's cancellation, so a cancelled waiter still
    /// withdraws and readers get in at once rather than when the intent
    /// expires.
    private func withdrawQuietly(_ token: [UInt8]) async {
        let (client, keys) = (client, keys)
        _ = try? await client.ignoringCancellation {
            try await ClusterRouter.$callerDeadline.withValue(Self.cleanupDeadline(client)) {
                try await client.run(.withdraw, keys: keys, arguments: [token])
            }
        }
    }
}

extension Duration {
    /// This duration scaled by a random factor in [0.5, 1.5), so waiters that
    /// started together do not look at the lock in lockstep.
    func jittered() -> Duration {
        self * Double.random(in: 0.5..<1.5)
    }
}
