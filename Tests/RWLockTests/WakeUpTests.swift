import Foundation
import Testing

@testable import RWLock

/// No lost wake-ups: a waiter never sleeps a re-check interval because of
/// a release that came before its subscription was active, and a hot
/// lock's channel stays subscribed for a while after its last waiter.
/// The re-check interval is set long (3 s, so 1.5 to 4.5 s jittered) so
/// that any wake-up it had to supply shows.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct WakeUpTests {
    static let redisURL = ProcessInfo.processInfo.environment["REDIS_URL"] ?? ""

    func options() -> RWLock.Options { .init(lease: .seconds(5), retryInterval: .seconds(3)) }

    func name(_ test: String = #function) -> String { "wake-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    func channelSubscribers(_ client: RWLockClient, _ lock: RWLock) async throws -> Int64 {
        guard case .array(let reply) = try await client.send([Array("PUBSUB".utf8), Array("NUMSUB".utf8), lock.channel]),
            reply.count == 2, case .integer(let count) = reply[1]
        else { return -1 }
        return count
    }

    /// The waiter's SUBSCRIBE crosses a slow link (300 ms each way), so the
    /// holder's release is published before the subscription is active and
    /// Redis drops it. The confirmation of the subscription must send the
    /// waiter to look again (about one 600 ms round trip); before that fix
    /// it slept its re-check interval, here 10 s jittered to at least 5 s.
    @Test func aReleaseBeforeTheSubscriptionIsActiveIsNotLost() async throws {
        let proxy = try LoopbackProxy(upstreamPort: try #require(ProcessProbe.port(of: Self.redisURL)))
        defer { proxy.close() }
        proxy.delay(by: .milliseconds(300))
        let endpoint = try RedisEndpoint(url: Self.redisURL)
        let client = try RWLockClient(deployment: .server(endpoint), configuration: .init(maxConnections: 4, connectTimeout: .seconds(2), commandTimeout: .seconds(2), clusterRetryWindow: .zero), subscriberEndpoint: try RedisEndpoint(url: proxy.url))
        defer { client.close() }
        let name = name()
        let lock = try RWLock(name: name, client: client, options: .init(lease: .seconds(5), retryInterval: .seconds(10)))
        let holder = try await lock.acquireWrite()
        let waiter = Task.detached { try await lock.acquireWrite(timeout: .seconds(30)) }
        // The waiter was refused and is subscribing now, across the slow link.
        #expect(await ProcessProbe.eventually { (try? await lock.inspect().waiting.count) == 1 })
        let released = ContinuousClock.now
        try await holder.release()
        let granted = try await waiter.value
        let waited = ContinuousClock.now - released
        print("release before the subscription was active: the waiter got in \(waited) after it")
        // Over three times the round trip; under the 5 s a timer would take.
        #expect(waited < .seconds(2), "the waiter slept a re-check interval: \(waited)")
        try await granted.release()
    }

    /// Readers refused behind a writer's intent wake on that writer's
    /// release, not on their re-check timer. The readers are another
    /// client's than the writer's, so the server refuses them (their own
    /// client would hold them back without asking); the test waits until
    /// that client's registry has all three asleep on the channel.
    @Test func readersBehindAnIntentWakeOnTheWritersRelease() async throws {
        let client = try RWLockClient(url: nil), readerClient = try RWLockClient(url: nil)
        defer { client.close(); readerClient.close() }
        let name = name()
        let lock = try RWLock(name: name, client: client, options: options())
        let first = try await lock.acquireRead()
        let writer = Task.detached { try await lock.acquireWrite(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { (try? await lock.inspect().waiting.count) == 1 })
        let readerLock = try RWLock(name: name, client: readerClient, options: options())
        let readers = (0..<3).map { _ in Task.detached { try await readerLock.acquireRead(timeout: .seconds(20)) } }
        // All three were refused (the intent keeps them out) and sleep on
        // the channel.
        #expect(await ProcessProbe.eventually {
            readerClient.subscriber.watchers(of: readerLock.channel) == 3
                && readerClient.subscriber.sleepers(on: readerLock.channel) == 3
        }, "the readers never all waited")
        #expect(readerLock.acquiresSent.load(ordering: .relaxed) >= 3)
        try await first.release()
        let write = try await writer.value
        let released = ContinuousClock.now
        try await write.release()
        for reader in readers { try await reader.value.release() }
        let waited = ContinuousClock.now - released
        print("readers behind an intent: in \(waited) after the writer's release")
        // The re-check interval is 3 s jittered to 1.5–4.5 s: a reader left to
        // its timer takes at least 1.5 s, over three times this bound.
        #expect(waited < .milliseconds(500), "the readers waited for their timer: \(waited)")
    }

    /// Repeated contention does not pay a SUBSCRIBE each time: the channel
    /// stays subscribed for a grace after the last waiter left, then goes.
    @Test func aHotChannelStaysSubscribedForAGrace() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let lock = try RWLock(name: name(), client: client, options: .init(lease: .seconds(5)))
        let holder = try await lock.acquireWrite()
        let waiter = Task.detached { try await lock.acquireWrite(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { (try? await channelSubscribers(client, lock)) == 1 })
        try await holder.release()
        try await waiter.value.release()
        let left = ContinuousClock.now
        #expect(try await channelSubscribers(client, lock) == 1, "dropped at once")
        #expect(await ProcessProbe.eventually { (try? await channelSubscribers(client, lock)) == 0 }, "never dropped")
        let kept = ContinuousClock.now - left
        #expect(kept >= Subscriber.lingerGrace - .milliseconds(50), "kept only \(kept)")
    }

    /// A wait ends at the first of three things: a message on its channel,
    /// its pause, or its task's cancellation; each alone ends it, promptly.
    @Test func aWaitEndsOnAMessageItsPauseOrCancellation() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let channel = Array("rwlock:{\(name())}:channel".utf8)
        let subscriber = client.subscriber
        // Watched, the channel stays subscribed between waits. The
        // confirmation of its subscription is an event of its own (subscribe,
        // then look): the first wait ends on it.
        var seen: UInt64? = subscriber.watch(channel, refusedAttemptSent: .now)
        defer { subscriber.unwatch(channel) }
        seen = try await subscriber.wait(on: channel, upTo: .seconds(5), since: seen)

        // Nobody publishes: the pause ends it, not before.
        var started = ContinuousClock.now
        seen = try await subscriber.wait(on: channel, upTo: .milliseconds(200), since: seen)
        let paused = ContinuousClock.now - started
        #expect(paused >= .milliseconds(200) && paused < .seconds(3), "a 200 ms pause ended after \(paused)")

        // A message ends a long pause at once (`since`: even one that comes
        // before the wait registers).
        let last = seen
        let waiting = Task { try await subscriber.wait(on: channel, upTo: .seconds(30), since: last) }
        started = ContinuousClock.now
        _ = try await client.send([Array("PUBLISH".utf8), channel, Array("released".utf8)])
        try await waiting.value
        #expect(ContinuousClock.now - started < .seconds(3), "the message did not end the wait")

        // Cancellation ends a long pause at once, with CancellationError.
        let cancelled = Task { try await subscriber.wait(on: channel, upTo: .seconds(30)) }
        started = ContinuousClock.now
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(ContinuousClock.now - started < .seconds(3), "cancellation did not end the wait")
    }
}
