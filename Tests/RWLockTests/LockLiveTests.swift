import Foundation
import Synchronization
import Testing

@testable import RWLock

private let liveRedis = LiveEnvironment.hasServer

private func uniqueName(_ test: String = #function) -> String {
    "t-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))"
}

/// Polls `condition` until it holds or `limit` passes; the scenarios wait for
/// server state (an intent registered, a lease expired), not for time.
private func eventually(
    within limit: Duration = .seconds(5), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}

private func keyCount(_ client: RWLockClient, _ lock: RWLock, _ suffix: String) async throws -> Int64 {
    let key = "rwlock:{\(lock.name)}:\(suffix)"
    guard case .integer(let count) = try await client.send(["ZCARD", key]) else { return -1 }
    return count
}

@Suite("RWLock against a live server", .enabled(if: liveRedis), .timeLimit(.minutes(2)))
struct LockLiveTests {
    @Test func readersShareWritersExcludeEveryone() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 8))
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .milliseconds(500)))
        let timeline = Timeline()
        let fences = Box<[Fence]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<12 {
                group.addTask {
                    for round in 0..<6 {
                        if (worker + round) % 3 == 0 {
                            try await lock.withWriteLock(timeout: .seconds(30)) { fence in
                                fences.withLock { $0.append(fence) }
                                try await timeline.record(.write) { try await Task.sleep(for: .milliseconds(3)) }
                            }
                        } else {
                            try await lock.withReadLock(timeout: .seconds(30)) {
                                try await timeline.record(.read) { try await Task.sleep(for: .milliseconds(5)) }
                            }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(timeline.all.count == 72)
        let overlaps = timeline.overlapsBreakingExclusion()
        #expect(overlaps.isEmpty, "\(overlaps.count) overlaps with a writer, first: \(String(describing: overlaps.first))")
        // Readers did share: some read visits overlapped.
        let reads = timeline.all.filter { $0.mode == .read }.sorted { $0.enter < $1.enter }
        #expect(zip(reads, reads.dropFirst()).contains { $1.enter < $0.leave })
        // S6: fences in grant order strictly increase (grant order = fence order is what we check: all distinct).
        let granted = fences.value
        #expect(Set(granted).count == granted.count)
    }

    @Test func successiveWriteFencesIncrease() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client)
        var last: Fence? = nil
        for _ in 0..<5 {
            let fence = try await lock.withWriteLock { $0 }
            if let last { #expect(fence > last) }
            last = fence
        }
    }

    @Test func aWriterBehindAStreamOfReadersGetsInWithinAboutOneReaderLease() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 8))
        defer { client.close() }
        let lease = Duration.milliseconds(300)
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: lease))
        let stop = Box(false)
        let readsAfterWrite = Box(0)
        let written = Box(false)
        let readers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while !stop.value {
                            try await lock.withReadLock(timeout: .seconds(10)) {
                                if written.value { readsAfterWrite.withLock { $0 += 1 } }
                                try await Task.sleep(for: .milliseconds(100))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        // Readers are in and overlapping before the writer arrives.
        #expect(try await eventually { try await keyCount(client, lock, "readers") >= 2 })
        let start = ContinuousClock.now
        try await lock.withWriteLock(timeout: .seconds(5)) { _ in written.withLock { $0 = true } }
        let waited = ContinuousClock.now - start
        stop.withLock { $0 = true }
        try await readers.value
        #expect(waited < lease + .milliseconds(300), "the writer waited \(waited) behind readers holding 100 ms each")
        let laterReads = readsAfterWrite.value
        #expect(laterReads > 0)
    }

    @Test func aWaiterWakesOnReleaseWithoutWaitingOutItsRetryInterval() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        // Every pause of the reader is at least 10 s (20 s jittered by ±50 %).
        let lock = try RWLock(
            name: uniqueName(), client: client, options: .init(lease: .seconds(30), retryInterval: .seconds(20)))
        let writer = try await lock.acquireWrite()
        let reader = Task { try await lock.withReadLock(timeout: .seconds(20)) {} }
        // The reader has looked, been refused and subscribed to the lock's channel.
        let channel = String(decoding: lock.channel, as: UTF8.self)
        #expect(try await eventually {
            guard case .array(let numsub) = try await client.send(["PUBSUB", "NUMSUB", channel]), numsub.count == 2,
                case .integer(let subscribers) = numsub[1]
            else { return false }
            return subscribers >= 1
        })
        let released = ContinuousClock.now
        try await writer.release()
        try await reader.value
        let woke = ContinuousClock.now - released
        #expect(woke < .seconds(2), "the reader took \(woke) to notice the release")
    }

    @Test func cancellingAWaitingWriterLetsReadersInAtOnce() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(5)))
        let reader = try await lock.acquireRead()
        let writer = Task { try await lock.withWriteLock { _ in } }
        #expect(try await eventually { try await keyCount(client, lock, "intents") == 1 })
        // Writer preference: the intent keeps new readers out.
        #expect(try await lock.withReadLockIfAvailable { true } == nil)
        writer.cancel()
        let error = await #expect(throws: RWLockError.self) { try await writer.value }
        #expect(error?.kind == .cancelled)
        // Withdrawn, not left to expire (its intent would live 5 s).
        #expect(try await keyCount(client, lock, "intents") == 0)
        #expect(try await lock.withReadLockIfAvailable { true } == true)
        try await reader.release()
    }

    /// The pool refuses a cancelled task's commands, but a release must not
    /// be refused: a cancelled holder that releases frees the lock at once.
    @Test func aCancelledTaskStillReleases() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(5)))
        for mode in [Lease.Mode.write, .read] {
            let lease = mode == .write ? try await lock.acquireWrite() : try await lock.acquireRead()
            let releasing = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                try await lease.release()
                return Task.isCancelled
            }
            #expect(try await releasing.value, "the release ran in a cancelled task")
            let state = try await lock.inspect()
            #expect(state.writer == nil && state.readers.isEmpty, "the \(mode) lease was released, not left to expire")
        }
    }

    @Test func preferringReadersLetsReadersPastAWaitingWriter() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(preference: .readers))
        let reader = try await lock.acquireRead()
        let writer = Task { try await lock.withWriteLock(timeout: .seconds(10)) { $0 } }
        #expect(try await eventually { try await keyCount(client, lock, "intents") == 1 })
        #expect(try await lock.withReadLockIfAvailable { true } == true)
        try await reader.release()
        _ = try await writer.value
    }

    @Test func aRefusedWriterWithdrawsItsIntent() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client)
        let reader = try await lock.acquireRead()
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == nil)
        #expect(try await keyCount(client, lock, "intents") == 0)
        #expect(try await lock.withReadLockIfAvailable { true } == true)
        try await reader.release()
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == true)
    }

    @Test func waitingTimesOutAndLeavesNothingBehind() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client)
        let holder = try await lock.acquireWrite()
        let error = await #expect(throws: RWLockError.self) {
            try await lock.withWriteLock(timeout: .milliseconds(200)) { _ in }
        }
        #expect(error?.kind == .timedOut)
        #expect(try await keyCount(client, lock, "intents") == 0)
        let readError = await #expect(throws: RWLockError.self) {
            try await lock.acquireRead(timeout: .milliseconds(100))
        }
        #expect(readError?.kind == .timedOut)
        try await holder.release()
    }

    @Test func explicitLeasesRenewDowngradeAndRelease() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(tokenPrefix: "tests"))
        let lease = try await lock.acquireWrite()
        #expect(lease.mode == .write && lease.fence != nil && lease.isValid)
        #expect(lease.token.hasPrefix("tests:"))
        // A renewal moves the server's deadline and the client's validity
        // forward: let 100 ms of the 1 s lease run out first, so a renewal
        // that did nothing would show.
        let writerKey = "rwlock:{\(lock.name)}:writer"
        func serverMillisecondsLeft() async throws -> Int64 {
            guard case .integer(let pttl) = try await client.send(["PTTL", writerKey]) else { return -1 }
            return pttl
        }
        #expect(try await eventually { try await serverMillisecondsLeft() <= 900 })
        let (before, serverBefore) = (lease.validUntil, try await serverMillisecondsLeft())
        try await lease.renew()
        let serverAfter = try await serverMillisecondsLeft()
        #expect(lease.validUntil > before + .milliseconds(50), "renew() did not move the client's validity: \(lease.validUntil - before)")
        #expect(serverAfter > serverBefore + 50, "renew() did not move the server's deadline: PTTL \(serverBefore) → \(serverAfter) ms")
        #expect(try await lock.withReadLockIfAvailable { true } == nil)
        try await lease.downgrade()
        #expect(lease.mode == .read)
        #expect(try await lock.withReadLockIfAvailable { true } == true)
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == nil)
        let again = await #expect(throws: RWLockError.self) { try await lease.downgrade() }
        #expect(again?.kind == .notHolder)
        try await lease.release()
        let twice = await #expect(throws: RWLockError.self) { try await lease.release() }
        #expect(twice?.kind == .notHolder)
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == true)
    }

    @Test func anExpiredExplicitLeaseCannotBeRenewedOrReleased() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .milliseconds(100)))
        let lease = try await lock.acquireRead()
        // Waiting for the lease to expire is the scenario itself.
        #expect(try await eventually { try await lock.withWriteLockIfAvailable { _ in true } == true })
        #expect(!lease.isValid)
        let error = await #expect(throws: RWLockError.self) { try await lease.renew() }
        #expect(error?.kind == .leaseLost)
    }

    @Test func aBodyOutlivingItsHardCapIsCancelledAndReportsLeaseLost() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(
            name: uniqueName(), client: client,
            options: .init(lease: .milliseconds(150), hardCap: .milliseconds(400)))
        let sawCancellation = Box(false)
        let error = await #expect(throws: RWLockError.self) {
            try await lock.withWriteLock { _ in
                // Works until told to stop, as a body should.
                _ = try? await eventually(within: .seconds(5)) { Task.isCancelled }
                sawCancellation.withLock { $0 = Task.isCancelled }
            }
        }
        #expect(error?.kind == .leaseLost)
        let cancelled = sawCancellation.value
        #expect(cancelled)
    }

    @Test func aLongBodyIsKeptAliveByRenewals() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        // Renewed every third of the lease: a renewal up to 660 ms late (a
        // loaded machine) still keeps it.
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(1)))
        try await lock.withWriteLock { _ in
            // Four leases long; another writer must stay out throughout.
            let end = ContinuousClock.now + .seconds(4)
            while ContinuousClock.now < end {
                // Detached: another holder, not a nested call (which would re-enter).
                let other = try await Task.detached { try await lock.withWriteLockIfAvailable { _ in true } }.value
                #expect(other == nil)
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    @Test func theBodysErrorPropagatesAndTheLockIsReleased() async throws {
        struct Boom: Error {}
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(30)))
        await #expect(throws: Boom.self) { try await lock.withWriteLock { _ in throw Boom() } }
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == true)
        await #expect(throws: Boom.self) { try await lock.withReadLock { throw Boom() } }
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == true)
    }

    @Test func scriptFlushMidRunIsSurvived() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 4))
        defer { client.close() }
        // A lease long enough that a loaded 2-core machine still renews in time.
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(1)))
        let timeline = Timeline()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for _ in 0..<5 {
                        if worker == 0 {
                            try await lock.withWriteLock(timeout: .seconds(10)) { _ in
                                try await timeline.record(.write) { try await Task.sleep(for: .milliseconds(60)) }
                            }
                        } else {
                            try await lock.withReadLock(timeout: .seconds(10)) {
                                try await timeline.record(.read) { try await Task.sleep(for: .milliseconds(60)) }
                            }
                        }
                    }
                }
            }
            group.addTask {
                for _ in 0..<10 {
                    _ = try await client.send(["SCRIPT", "FLUSH"])
                    try await Task.sleep(for: .milliseconds(30))
                }
            }
            try await group.waitForAll()
        }
        #expect(timeline.all.count == 20)
        #expect(timeline.overlapsBreakingExclusion().isEmpty)
    }

    @Test func killedConnectionsAreReplacedWithoutLosingTheLease() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        let admin = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close(); admin.close() }
        // Renewed every third of the lease; a renewal that meets the dead
        // connection is sent again on a new one, well within 1 s (a 300 ms
        // lease was lost now and then when the whole suite loaded the cores).
        let lock = try RWLock(name: uniqueName(), client: client, options: .init(lease: .seconds(1)))
        try await lock.withWriteLock { _ in
            for round in 1...3 {
                guard case .integer(let id) = try await client.send(["CLIENT", "ID"]) else {
                    Issue.record("CLIENT ID did not answer an integer")
                    return
                }
                _ = try await admin.send(["CLIENT", "KILL", "ID", String(id)])
                // Wait until a renewal has met the dead connection and the pool
                // has opened a new one (polled, not slept on).
                #expect(try await eventually { client.pool.statistics.connectionsOpened > round })
            }
        }
        #expect(client.pool.statistics.connectionsOpened >= 3)
        #expect(try await lock.withWriteLockIfAvailable { _ in true } == true)
    }

    @Test func aKilledSubscriberConnectionCostsAtMostARetryInterval() async throws {
        let client = try RWLockClient(url: nil)
        let admin = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close(); admin.close() }
        let lock = try RWLock(
            name: uniqueName(), client: client, options: .init(lease: .seconds(30), retryInterval: .milliseconds(200)))
        let writer = try await lock.acquireWrite()
        let reader = Task { try await lock.withReadLock(timeout: .seconds(10)) {} }
        let channel = String(decoding: lock.channel, as: UTF8.self)
        #expect(try await eventually {
            guard case .array(let numsub) = try await client.send(["PUBSUB", "NUMSUB", channel]), numsub.count == 2,
                case .integer(let subscribers) = numsub[1]
            else { return false }
            return subscribers >= 1
        })
        let list = try await admin.send(["CLIENT", "LIST"]).string ?? ""
        let line = list.split(separator: "\n").first { $0.contains("name=\(client.subscriber.connectionName) ") }
        let id = line?.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3)
        #expect(id != nil, "no subscriber connection in CLIENT LIST")
        if let id { _ = try await admin.send(["CLIENT", "KILL", "ID", String(id)]) }
        let released = ContinuousClock.now
        try await writer.release()
        try await reader.value
        let woke = ContinuousClock.now - released
        #expect(woke < .seconds(2), "the reader took \(woke) after its subscriber connection was killed")
        // The subscriber reconnects for later waiters.
        let holder = try await lock.acquireWrite()
        let next = Task { try await lock.withReadLock(timeout: .seconds(10)) {} }
        #expect(try await eventually {
            guard case .array(let numsub) = try await client.send(["PUBSUB", "NUMSUB", channel]), numsub.count == 2,
                case .integer(let subscribers) = numsub[1]
            else { return false }
            return subscribers >= 1
        })
        try await holder.release()
        try await next.value
    }

    @Test(arguments: ["writer", "readers", "queue", "intents", "fence"])
    func wrongTypedKeysAreAClearErrorAndNoGrant(suffix: String) async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: uniqueName(), client: client)
        let key = "rwlock:{\(lock.name)}:\(suffix)"
        // A list is no type any lock key has; a fence that is not a number is corrupt too.
        if suffix == "fence" {
            _ = try await client.send(["SET", key, "not-a-number", "PX", "60000"])
        } else {
            _ = try await client.send(["RPUSH", key, "planted"])
        }
        defer { Task { _ = try? await client.send(["DEL", key]) } }
        for attempt in 0..<2 {
            let error = await #expect(throws: RWLockError.self) {
                if attempt == 0 {
                    try await lock.withWriteLock(timeout: .seconds(1)) { _ in Issue.record("granted beside a corrupt key") }
                } else {
                    try await lock.withReadLock(timeout: .seconds(1)) { Issue.record("granted beside a corrupt key") }
                }
            }
            #expect(error?.kind == .server)
            #expect(error?.serverMessage?.contains("RWLOCK key") == true, "\(String(describing: error))")
        }
        guard case .integer(let exists) = try await client.send(["EXISTS", "rwlock:{\(lock.name)}:writer"]) else {
            Issue.record("EXISTS did not answer an integer")
            return
        }
        #expect(exists == (suffix == "writer" ? 1 : 0))
        _ = try await client.send(["DEL", key])
    }
}
