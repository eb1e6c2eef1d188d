import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R5: nested scoped use of one lock in one task tree re-enters the outer
    /// hold (no new lease, no round trip, the outer fence) or, for an upgrade,
    /// fails at once; it never waits on itself.
    @Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
    struct NestingTests {
        let client: RWLockClient

        init() throws { client = try RWLockClient(url: nil, configuration: .init(maxConnections: 4)) }

        func lock(_ name: String = "nest-\(UUID().uuidString.prefix(8))") throws -> RWLock {
            try RWLock(name: name, client: client, options: .init(lease: .seconds(2)))
        }

        /// Lock scripts `server` ran so far (EVALSHA calls), to show nesting
        /// costs no round trip.
        func scriptCalls(_ server: PrivateServer) async throws -> Int {
            guard case .bulk(let bytes) = try await server.command(["INFO", "commandstats"]) else { return -1 }
            let line = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_evalsha:") }
            return line.flatMap { Int($0.split(separator: "=")[1].prefix(while: \.isNumber)) } ?? 0
        }

        @Test(.enabled(if: LiveEnvironment.runs(PrivateServer.path != nil))) func writeInWriteAndReadInWriteReenterWithTheOuterFence() async throws {
            // A server of its own, so that its script count is this test's alone.
            let server = try PrivateServer()
            try await server.start()
            let client = try RWLockClient(endpoint: try RedisEndpoint(url: server.socket))
            defer { client.close() }
            let lock = try RWLock(name: "nest", client: client, options: .init(lease: .seconds(2), restartQuarantine: .disabled))
            let inner = try await lock.withWriteLock(timeout: .seconds(1)) { outer in
                let before = try await scriptCalls(server)
                let nestedWrite = try await lock.withWriteLock(timeout: .milliseconds(200)) { fence in fence }
                let nestedRead = try await lock.withReadLock(timeout: .milliseconds(200)) { true }
                let ifAvailable = try await lock.withWriteLockIfAvailable { fence in fence }
                let after = try await scriptCalls(server)
                #expect(after == before, "nesting ran \(after - before) scripts")
                #expect(nestedRead)
                #expect(ifAvailable == outer)
                let snapshot = try await lock.inspect()
                #expect(snapshot.readers.isEmpty && snapshot.writer?.fence == outer, "no second lease")
                return (outer, nestedWrite)
            }
            #expect(inner.0 == inner.1, "a nested write gets the outer fence")
        }

        @Test func readInReadReentersEvenWhileAWriterWaits() async throws {
            let lock = try lock()
            try await lock.withReadLock(timeout: .seconds(1)) {
                // Detached: another holder, not a child of this hold.
                let writer = Task.detached { try await lock.withWriteLock(timeout: .seconds(10)) { _ in } }
                defer { writer.cancel() }
                #expect(await ProcessProbe.eventually { (try? await lock.inspect().waiting.count) == 1 }, "the writer never waited")
                // Without re-entry the writer's intent would block this reader,
                // and the writer waits for the outer reader: a deadlock.
                let started = ContinuousClock.now
                try await lock.withReadLock(timeout: .milliseconds(500)) {
                    let readers = try await lock.inspect().readers.count
                    #expect(readers == 1, "no second read lease")
                }
                #expect(ContinuousClock.now - started < .milliseconds(200))
            }
        }

        @Test func writeInReadFailsAtOnceAsADeadlock() async throws {
            let lock = try lock()
            try await lock.withReadLock {
                let started = ContinuousClock.now
                let error = await #expect(throws: RWLockError.self) { try await lock.withWriteLock { _ in } }
                #expect(error?.kind == .wouldDeadlock)
                #expect(error.map(String.init(describing:))?.contains("release the read lock first") == true)
                let tryOnce = await #expect(throws: RWLockError.self) { _ = try await lock.withWriteLockIfAvailable { _ in } }
                #expect(tryOnce?.kind == .wouldDeadlock)
                #expect(ContinuousClock.now - started < .milliseconds(200), "it waited")
                let waiting = try await lock.inspect().waiting
                #expect(waiting.isEmpty, "no intent was registered")
            }
        }

        @Test func explicitAcquiresInsideAScopedHoldFailAtOnce() async throws {
            let lock = try lock()
            try await lock.withWriteLock { _ in
                for mode in [Lease.Mode.read, .write] {
                    let error = await #expect(throws: RWLockError.self) {
                        _ = try await (mode == .read ? lock.acquireRead(timeout: .seconds(5)) : lock.acquireWrite(timeout: .seconds(5)))
                    }
                    #expect(error?.kind == .wouldDeadlock)
                }
            }
            // Outside any hold, explicit leases work as before.
            try await lock.acquireWrite(timeout: .seconds(1)).release()
        }

        @Test func childTasksInheritTheHoldDetachedTasksDoNot() async throws {
            let lock = try lock()
            // The same lock through another client and another RWLock value.
            let other = try RWLockClient(deployment: client.deployment)
            defer { other.close() }
            let sameLock = try RWLock(name: lock.name, client: other)
            try await lock.withWriteLock(timeout: .seconds(1)) { outer in
                async let child = sameLock.withWriteLock(timeout: .milliseconds(300)) { fence in fence }
                let inGroup = try await withThrowingTaskGroup(of: Fence.self) { group in
                    group.addTask { try await lock.withWriteLock(timeout: .milliseconds(300)) { fence in fence } }
                    return try await group.next()!
                }
                #expect(try await child == outer)
                #expect(inGroup == outer)
                // A detached task is another holder: it finds the lock taken.
                let detached = try await Task.detached {
                    try await lock.withWriteLockIfAvailable { fence in fence }
                }.value
                #expect(detached == nil)
                // Another lock is not this one.
                #expect(try await self.lock().withWriteLockIfAvailable { _ in true } == true)
            }
        }

        /// A nested body in an unstructured task (`Task { }` inherits the
        /// hold) that outlives the outer body keeps the hold: the outer call
        /// returns, and releases, only once that body is done.
        @Test func aNestedBodyInAnOutlivingTaskKeepsTheHold() async throws {
            let lock = try lock()
            let (go, proceed) = AsyncStream<Void>.makeStream()
            let inside = Box(false)
            let innerFence = Box<Fence?>(nil)
            let bodyReturned = Box(false), callReturned = Box(false)
            let outer = Task {
                defer { callReturned.withLock { $0 = true } }
                return try await lock.withWriteLock(timeout: .seconds(1)) { fence in
                    Task {
                        try await lock.withWriteLock(timeout: .milliseconds(200)) { inner in
                            inside.withLock { $0 = true }
                            for await _ in go { break }
                            innerFence.withLock { $0 = inner }
                        }
                    }
                    // Return only once the nested body runs under this hold.
                    _ = await ProcessProbe.eventually { inside.value }
                    bodyReturned.withLock { $0 = true }
                    return fence
                }
            }
            #expect(await ProcessProbe.eventually { bodyReturned.value }, "the outer body never returned")
            // A negative, so a bounded watch: for 300 ms after the outer body
            // returned, the outer call must not (it waits for the nested body).
            #expect(await !ProcessProbe.eventually(within: .milliseconds(300)) { callReturned.value },
                    "the outer call returned (and released) under a running nested body")
            let writer = try await lock.inspect().writer
            #expect(writer != nil, "the hold was released under a running nested body")
            proceed.yield()
            proceed.finish()
            let fence = try await outer.value
            #expect(innerFence.value == fence, "the nested body ran under another lease")
            let after = try await lock.inspect().writer
            #expect(after == nil, "not released after the nested body ended")
        }

        /// A lost lease cancels a nested body that runs in a `Task {}`
        /// outliving the outer body, as it cancels the outer one: an
        /// operator evicts the lease, the next renewal is refused, and the
        /// nested body sees its task cancelled and its call throws
        /// `.leaseLost`, as does the outer call.
        @Test func aLostLeaseCancelsANestedBodyInAnOutlivingTask() async throws {
            // Renewed every 200 ms: the eviction is found within that.
            let lock = try RWLock(name: "nest-lost-\(UUID().uuidString.prefix(8))", client: client,
                                  options: .init(lease: .milliseconds(600)))
            let inside = Box(false), nestedSawCancellation = Box(false), bodyReturned = Box(false)
            let nestedError = Box<RWLockError?>(nil)
            let nested = Box<Task<Void, Never>?>(nil)
            let outer = Task {
                try await lock.withWriteLock(timeout: .seconds(1)) { _ in
                    nested.withLock { $0 = Task {
                        do {
                            try await lock.withWriteLock(timeout: .milliseconds(200)) { _ in
                                inside.withLock { $0 = true }
                                // Works until told to stop, as a body should.
                                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
                                nestedSawCancellation.withLock { $0 = true }
                            }
                        } catch {
                            nestedError.withLock { $0 = error as? RWLockError }
                        }
                    } }
                    _ = await ProcessProbe.eventually { inside.value }
                    bodyReturned.withLock { $0 = true }
                }
            }
            #expect(await ProcessProbe.eventually { bodyReturned.value }, "the outer body never returned")
            let token = try #require(try await lock.inspect().writer?.token, "the hold was released under the nested body")
            #expect(try await lock.evict(token: token))
            // Renewals come every 200 ms; ten seconds is a bound, not a guess.
            let cancelled = await ProcessProbe.eventually(within: .seconds(10)) { nestedSawCancellation.value }
            #expect(cancelled, "the nested body's task was never cancelled")
            // Left running, it would hold the outer call (and this test) forever.
            if !cancelled { nested.value?.cancel() }
            let outerError = await #expect(throws: RWLockError.self) { try await outer.value }
            #expect(outerError?.kind == .leaseLost)
            await nested.value?.value
            #expect(nestedError.value?.kind == .leaseLost, "the nested call: \(String(describing: nestedError.value))")
        }

        /// A task that outlives the body holds nothing: it acquires afresh.
        @Test func anEscapedTaskAcquiresAfresh() async throws {
            let lock = try lock()
            let (released, announce) = AsyncStream<Void>.makeStream()
            let escaped = try await lock.withWriteLock(timeout: .seconds(1)) { outer in
                (outer, Task {
                    for await _ in released { break }  // runs its lock call only once the hold is over
                    return try await lock.withWriteLock(timeout: .seconds(5)) { fence in fence }
                })
            }
            announce.yield()
            announce.finish()
            let fence = try await escaped.1.value
            #expect(fence > escaped.0, "the escaped task re-entered a released hold")
        }
    }
}
