import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import RWLock

/// The client as a swift-service-lifecycle `Service`: a graceful shutdown
/// drains it in the order ``RWLockClient/shutdown()`` promises, against a
/// real server.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct LifecycleTests {
    func name(_ test: String = #function) -> String { "life-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    /// Events in the order they happened.
    final class Timeline: Sendable {
        private let events = Mutex<[String]>([])
        func record(_ event: String) { events.withLock { $0.append(event) } }
        var all: [String] { events.withLock { $0 } }
    }

    @Test func aGracefulShutdownDrainsThenCloses() async throws {
        let client = try RWLockClient(url: nil)
        let other = try RWLockClient(url: nil)
        defer { other.close() }
        let timeline = Timeline()
        let leaseLength = Duration.milliseconds(600)
        let busy = try RWLock(name: name(), client: client, options: .init(lease: leaseLength))
        let contended = name()
        let waitingLock = try RWLock(name: contended, client: client, options: .init(lease: .seconds(5)))
        let blocker = try await RWLock(name: contended, client: other, options: .init(lease: .seconds(5))).acquireWrite()

        let group = ServiceGroup(configuration: .init(services: [client], logger: Logger(label: "test")))
        let running = Task { try await group.run(); timeline.record("run returned") }

        // A body that is running when the drain begins, and one writer and
        // one reader waiting on a lock another client holds.
        let (bodyMayFinish, finishBody) = AsyncStream.makeStream(of: Void.self)
        let held = Box<Lease?>(nil)
        let body = Task {
            try await busy.withLease(.write) { lease in
                held.withLock { $0 = lease }
                timeline.record("body started")
                let granted = lease.validUntil
                for await _ in bodyMayFinish { break }
                timeline.record("body ended")
                return lease.validUntil > granted
            }
        }
        let writer = Task { try await waitingLock.withWriteLock { _ in } }
        let reader = Task { try await waitingLock.withReadLock {} }
        let intents = Array("rwlock:{\(contended)}:intents".utf8)
        #expect(await ProcessProbe.eventually { timeline.all.contains("body started") })
        #expect(try await ProcessProbe.eventually { try await other.send([Array("ZCARD".utf8), intents]) == .integer(1) },
                "the writer never registered its intent")

        await group.triggerGracefulShutdown()

        // Waiting acquires end with .shutdown, the writer's intent withdrawn,
        // while the body still runs.
        for waiter in [writer, reader] {
            let error = await #expect(throws: RWLockError.self) { try await waiter.value }
            #expect(error?.kind == .shutdown, "\(String(describing: error))")
        }
        #expect(try await other.send([Array("ZCARD".utf8), intents]) == .integer(0))
        let refused = await #expect(throws: RWLockError.self) { try await waitingLock.withReadLock {} }
        #expect(refused?.kind == .shutdown)
        #expect(!timeline.all.contains("body ended") && !timeline.all.contains("run returned"))

        // The drain keeps renewing the body's lease: it is extended past the
        // validity it had when the drain began, and twice more.
        let lease = try #require(held.value)
        let atDrain = lease.validUntil
        #expect(await ProcessProbe.eventually { lease.validUntil > atDrain + leaseLength * 2 },
                "the lease was not renewed while the drain waited for the body")
        #expect(try await other.send([Array("EXISTS".utf8), busy.keys[0]]) == .integer(1))
        finishBody.yield()
        #expect(try await body.value, "the lease was not renewed while the drain waited for the body")
        try await running.value

        #expect(timeline.all.suffix(2) == ["body ended", "run returned"])
        #expect(try await other.send([Array("EXISTS".utf8), busy.keys[0]]) == .integer(0), "the drained body's lease was not released")
        #expect(client.threads.alive == 0)
        let closed = await #expect(throws: RWLockError.self) { try await client.send(["PING"]) }
        #expect(closed?.kind == .shutdown)
        try await blocker.release()
    }

    /// An explicit lease is neither waited for nor released: it lapses on
    /// the server at its lease time.
    @Test func anExplicitLeaseIsLeftToLapse() async throws {
        let client = try RWLockClient(url: nil)
        let other = try RWLockClient(url: nil)
        defer { other.close() }
        let lock = try RWLock(name: name(), client: client, options: .init(lease: .seconds(2)))
        let lease = try await lock.acquireWrite()
        await client.shutdown()
        #expect(client.threads.alive == 0)
        guard case .integer(let left) = try await other.send([Array("PTTL".utf8), lock.keys[0]]) else {
            Issue.record("no PTTL reply")
            return
        }
        #expect(left > 0 && left <= 2_000, "PTTL \(left) ms")
        let error = await #expect(throws: RWLockError.self) { try await lease.release() }
        #expect(error?.kind == .shutdown)
    }

    @Test func shutdownWithNothingRunningReturnsAndIsIdempotent() async throws {
        let client = try RWLockClient(url: nil)
        let lock = try RWLock(name: name(), client: client)
        try await lock.withReadLock {}
        await client.shutdown()
        await client.shutdown()
        #expect(client.threads.alive == 0)
        let error = await #expect(throws: RWLockError.self) { try await lock.acquireRead() }
        #expect(error?.kind == .shutdown)
    }
}
