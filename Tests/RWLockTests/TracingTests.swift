import Foundation
import InMemoryTracing
import Testing
import Tracing

@testable import RWLock

/// The spans a lock emits, read back with swift-distributed-tracing's
/// in-memory tracer against a real server.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct TracingTests {
    let client: RWLockClient
    let tracer = InMemoryTracer()

    init() throws { client = try RWLockClient(url: nil) }

    func lock(includeName: Bool = false) throws -> RWLock {
        var options = RWLock.Options(lease: .seconds(2))
        options.traceIncludeLockName = includeName
        return try RWLock(name: "trace-\(UUID().uuidString.prefix(8))", client: client, options: options, tracer: tracer)
    }

    func spans(_ name: String) -> [FinishedInMemorySpan] { tracer.finishedSpans.filter { $0.operationName == name } }

    @Test func aWriteLockIsAnAcquireSpanAndAHoldSpanWithTheBodysSpansInside() async throws {
        defer { client.close() }
        let lock = try lock()
        let fence = try await lock.withWriteLock { fence in
            tracer.startSpan("inside the body").end()
            return fence
        }
        let acquire = try #require(spans("rwlock.acquire").first)
        #expect(acquire.kind == .client)
        #expect(acquire.attributes.get("db.system.name") == "redis")
        let endpoint = try RedisEndpoint(url: try #require(LiveEnvironment.redisURL))
        if case .tcp(let host, let port) = endpoint.address {
            #expect(acquire.attributes.get("server.address") == .string(host))
            #expect(acquire.attributes.get("server.port") == .int64(Int64(port)))
        }
        #expect(acquire.attributes.get("rwlock.mode") == "write")
        #expect(acquire.attributes.get("rwlock.outcome") == "granted")
        #expect(acquire.attributes.get("rwlock.attempts") == .int64(1))
        #expect(acquire.attributes.get("rwlock.fence") == .int64(Int64(fence.value)))
        #expect(acquire.attributes.get("rwlock.name") == nil, "the name is opt-in")
        #expect(acquire.status == nil)

        let hold = try #require(spans("rwlock.hold").first)
        #expect(hold.attributes.get("rwlock.fence") == .int64(Int64(fence.value)))
        #expect(hold.attributes.get("rwlock.lost") == nil)
        let inside = try #require(spans("inside the body").first)
        #expect(inside.parentSpanID == hold.spanID)
        #expect(inside.traceID == hold.traceID)
    }

    @Test func aContendedAcquireCountsItsAttemptsAndATimeoutIsAnError() async throws {
        defer { client.close() }
        let lock = try lock(includeName: true)
        // Held through another client: this client's readers then ask the
        // server (its own writer would hold them back without asking).
        let other = try RWLockClient(url: nil)
        defer { other.close() }
        let holder = try await RWLock(name: lock.name, client: other).acquireWrite()
        await #expect(throws: RWLockError.self) { try await lock.withReadLock(timeout: .milliseconds(300)) {} }
        let timedOut = try #require(spans("rwlock.acquire").first { $0.attributes.get("rwlock.mode") == "read" })
        #expect(timedOut.attributes.get("rwlock.outcome") == "timed_out")
        #expect(timedOut.status?.code == .error)
        #expect(timedOut.errors.count == 1)
        #expect(timedOut.attributes.get("rwlock.name") == .string(lock.name))
        #expect(spans("rwlock.hold").isEmpty, "a refused reader held nothing")

        // A reader that waits out the writer: refused, then granted.
        let sentBefore = lock.acquiresSent.load(ordering: .relaxed)
        let reader = Task { try await lock.withReadLock {} }
        #expect(await ProcessProbe.eventually { lock.acquiresSent.load(ordering: .relaxed) > sentBefore }, "the reader never asked")
        try await holder.release()
        try await reader.value
        let granted = try #require(spans("rwlock.acquire").first { $0.attributes.get("rwlock.outcome") == "granted" && $0.attributes.get("rwlock.mode") == "read" })
        guard case .int64(let attempts)? = granted.attributes.get("rwlock.attempts") else {
            Issue.record("no attempts attribute")
            return
        }
        #expect(attempts >= 2)
        #expect(spans("rwlock.hold").count == 1, "the reader's hold")
    }
}
