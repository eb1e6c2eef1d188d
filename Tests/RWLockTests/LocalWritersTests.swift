import Foundation
import Synchronization
import Testing

@testable import RWLock

/// Readers behind a writer of their own client wait without asking the
/// server, and get in as soon as that writer leaves: released, downgraded,
/// given up, or past its lease. The re-check interval is long (3 s, so 1.5
/// to 4.5 s jittered) wherever a wake-up must come from the writer leaving,
/// so a reader left to its timer shows.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct LocalWritersTests {
    func options(lease: Duration = .seconds(5), retryInterval: Duration = .seconds(3), tokenPrefix: String = "") -> RWLock.Options {
        .init(lease: lease, retryInterval: retryInterval, tokenPrefix: tokenPrefix)
    }

    /// Acquires of leases whose tokens start with `prefix` that reached the
    /// server through `proxy` and ran there: counted on the wire, not by
    /// the client. (A NOSCRIPT refusal runs nothing; its retry is counted.)
    func acquiresRun(through proxy: LoopbackProxy, tokenPrefix prefix: String) -> Int {
        let acquires: Set = [LockScript.acquireRead.sha1, LockScript.acquireWrite.sha1]
        return proxy.forwarded.filter { exchange in
            exchange.words.count > 2 && exchange.words[0].uppercased() == "EVALSHA" && acquires.contains(exchange.words[1])
                && exchange.words.contains { $0.hasPrefix(prefix + ":") }
                && exchange.reply?.hasPrefix("-NOSCRIPT") != true
        }.count
    }

    func name(_ test: String = #function) -> String { "local-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    /// Another client's reader holds `name`, and a writer of `client` waits
    /// behind it, its intent registered (and counted by the client).
    func writerWaitingBehindAnotherClientsReader(
        _ name: String, client: RWLockClient, other: RWLockClient, timeout: Duration = .seconds(20)
    ) async throws -> (held: Lease, writer: Task<Lease, any Error>) {
        let held = try await RWLock(name: name, client: other, options: options()).acquireRead()
        let writers = try RWLock(name: name, client: client, options: options())
        let writer = Task { try await writers.acquireWrite(timeout: timeout) }
        #expect(await ProcessProbe.eventually {
            let waiting = try? await writers.inspect().waiting.count
            return client.localWriters.count == 1 && waiting == 1
        })
        return (held, writer)
    }

    /// A client whose commands go through a loopback proxy (which a test
    /// can slow down), its subscriber straight to the server.
    func clientBehindAProxy(maxConnections: Int) throws -> (RWLockClient, LoopbackProxy) {
        let url = try #require(ProcessInfo.processInfo.environment["REDIS_URL"])
        let proxy = try LoopbackProxy(upstreamPort: try #require(ProcessProbe.port(of: url)))
        let client = try RWLockClient(deployment: .server(try RedisEndpoint(url: proxy.url)), configuration: .init(maxConnections: maxConnections, connectTimeout: .seconds(5), commandTimeout: .seconds(5), clusterRetryWindow: .zero), subscriberEndpoint: try RedisEndpoint(url: url))
        return (client, proxy)
    }

    /// Each reader got in within 1.2 s of `since`: woken, not left to its
    /// re-check timer.
    func expectAllGotIn(_ readers: [Task<ContinuousClock.Instant, any Error>], soonAfter since: ContinuousClock.Instant) async throws {
        for reader in readers {
            let got = try await reader.value
            #expect(got - since < .milliseconds(1200), "a reader slept its re-check interval: \(got - since)")
        }
    }

    /// Reader tasks that acquire, note when they got in, and release.
    func readers(_ count: Int, on lock: RWLock) -> [Task<ContinuousClock.Instant, any Error>] {
        (0..<count).map { _ in
            Task {
                let lease = try await lock.acquireRead(timeout: .seconds(20))
                let granted = ContinuousClock.now
                try await lease.release()
                return granted
            }
        }
    }

    /// Readers behind their client's waiting writer send nothing, and
    /// release messages meanwhile do not even wake them: they could only be
    /// refused again. The writer, which the server refuses, is woken by
    /// each. (With the hold-back check ignored, each message ended all five
    /// waits.)
    @Test func readersBehindAWaitingWriterSendNothingUntilItIsDone() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close(); proxy.close() }
        let name = name()
        let (held, writer) = try await writerWaitingBehindAnotherClientsReader(name, client: client, other: other)

        let lock = try RWLock(name: name, client: client, options: options(tokenPrefix: "readers"))
        func sent() -> Int { acquiresRun(through: proxy, tokenPrefix: "readers") }
        let readers = readers(4, on: lock)
        #expect(await ProcessProbe.eventually { client.subscriber.watchers(of: lock.channel) == 5 })
        // The channel's subscription confirmed (an event of its own), each
        // message sent while all five sleep ends the writer's wait only: it
        // asks, is refused and sleeps again.
        #expect(await ProcessProbe.eventually { client.subscriber.events(on: lock.channel) >= 1 })
        for message in 1...3 {
            #expect(await ProcessProbe.eventually { client.subscriber.sleepers(on: lock.channel) == 5 })
            let (events, woken) = (client.subscriber.events(on: lock.channel), client.subscriber.wokenByEvents)
            _ = try await other.send([Array("PUBLISH".utf8), lock.channel, Array("released".utf8)])
            #expect(await ProcessProbe.eventually { client.subscriber.events(on: lock.channel) > events })
            #expect(client.subscriber.wokenByEvents - woken == 1, "message \(message) ended \(client.subscriber.wokenByEvents - woken) waits")
        }
        #expect(sent() == 0, "a reader asked the server while the writer waited")

        try await held.release()
        let granted = try await writer.value
        #expect(sent() == 0, "a reader asked the server while the writer held")
        let released = ContinuousClock.now
        try await granted.release()
        try await expectAllGotIn(readers, soonAfter: released)
        // One acquire each: the one that was granted.
        #expect(sent() == 4)
        #expect(client.localWriters.count == 0)
    }

    /// A writer's intent does not hold up readers that prefer readers on
    /// the server, so a waiting writer of their own client does not either.
    @Test func readersPreferringReadersPassAWaitingWriter() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close(); proxy.close() }
        let name = name()
        let (held, writer) = try await writerWaitingBehindAnotherClientsReader(name, client: client, other: other)
        var preferReaders = options(tokenPrefix: "readers")
        preferReaders.preference = .readers
        let lock = try RWLock(name: name, client: client, options: preferReaders)
        let lease = try await lock.acquireRead(timeout: .seconds(2))
        #expect(acquiresRun(through: proxy, tokenPrefix: "readers") == 1)
        try await lease.release()
        try await held.release()
        try await writer.value.release()
    }

    @Test func aWriterThatGivesUpLetsTheReadersBehindItIn() async throws {
        let client = try RWLockClient(url: nil), other = try RWLockClient(url: nil)
        defer { client.close(); other.close() }
        let name = name()
        let (held, writer) = try await writerWaitingBehindAnotherClientsReader(
            name, client: client, other: other, timeout: .milliseconds(800))
        let lock = try RWLock(name: name, client: client, options: options())
        let readers = readers(2, on: lock)
        #expect(await ProcessProbe.eventually { client.subscriber.watchers(of: lock.channel) == 3 })

        let error = await #expect(throws: RWLockError.self) { try await writer.value }
        #expect(error?.kind == .timedOut)
        let gaveUp = ContinuousClock.now
        // The other client's reader still holds: readers do not exclude readers.
        try await expectAllGotIn(readers, soonAfter: gaveUp)
        #expect(client.localWriters.count == 0)
        try await held.release()
    }

    @Test func aDowngradeLetsTheReadersBehindItIn() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        defer { client.close(); proxy.close() }
        let name = name()
        let writer = try await RWLock(name: name, client: client, options: options()).acquireWrite()
        let lock = try RWLock(name: name, client: client, options: options(tokenPrefix: "readers"))
        let readers = readers(2, on: lock)
        #expect(await ProcessProbe.eventually { client.subscriber.watchers(of: lock.channel) == 2 })
        #expect(acquiresRun(through: proxy, tokenPrefix: "readers") == 0)

        try await writer.downgrade()
        try await expectAllGotIn(readers, soonAfter: ContinuousClock.now)
        #expect(client.localWriters.count == 1, "the downgraded lease counts as a read lease")
        try await writer.release()
        #expect(client.localWriters.count == 0)
    }

    /// Writers of one client that joined the queue one after another each
    /// wait for the one ahead without asking the server, and get in at once
    /// when it is done.
    @Test func writersBehindAWriterOfTheirClientSendNothingUntilItIsDone() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close(); proxy.close() }
        let name = name()
        let held = try await RWLock(name: name, client: other, options: options()).acquireRead()
        var locks: [RWLock] = [], writers: [Task<Lease, any Error>] = []
        for index in 0..<3 {
            let lock = try RWLock(name: name, client: client, options: options(tokenPrefix: "w\(index)"))
            locks.append(lock)
            writers.append(Task { try await lock.acquireWrite(timeout: .seconds(20)) })
            // Each joins the queue, and has read the reply that says so,
            // before the next is started.
            #expect(await ProcessProbe.eventually { client.localWriters.waitingCount(on: lock.channel) == index + 1 })
        }
        // (The first may look again when its subscription is confirmed.)
        func sent() -> [Int] { (0..<3).map { acquiresRun(through: proxy, tokenPrefix: "w\($0)") } }
        #expect(sent()[1...] == [1, 1])

        try await held.release()
        var lease = try await writers[0].value
        for next in 1..<3 {
            #expect(sent()[next...].allSatisfy { $0 == 1 }, "a writer behind asked the server: \(sent())")
            let released = ContinuousClock.now
            try await lease.release()
            lease = try await writers[next].value
            let waited = ContinuousClock.now - released
            #expect(waited < .milliseconds(1200), "writer \(next) slept its re-check interval: \(waited)")
        }
        try await lease.release()
        #expect(sent()[1...] == [2, 2], "one refused and one granted acquire each: \(sent())")
        #expect(client.localWriters.count == 0)
    }

    /// Writers of one client whose first attempts overlapped (all sent over
    /// a slow link before any was answered) still ask one at a time: each
    /// refusal names the writer's arrival in the queue, and only the first
    /// of them in the queue asks at a release message. Ordered by when
    /// attempts were sent and answered, as before, every writer still
    /// waiting asked at every release: at least 6 + 6 + 5 + … + 1 = 27
    /// acquires (34 in the run that checked this test against that order).
    @Test func writersWhoseFirstAttemptsOverlapAskOneAtATime() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        defer { proxy.close() }
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close() }
        let name = name()
        let held = try await RWLock(name: name, client: other, options: options()).acquireRead()
        let locks = try (0..<6).map { _ in try RWLock(name: name, client: client, options: options(tokenPrefix: "overlap")) }
        func sent() -> Int { acquiresRun(through: proxy, tokenPrefix: "overlap") }
        // 300 ms each way: every first attempt is sent before any is answered.
        proxy.delay(by: .milliseconds(300))
        let writers = locks.map { lock in
            Task {
                let lease = try await lock.acquireWrite(timeout: .seconds(30))
                let fence = try #require(lease.fence)
                try await lease.release()
                return fence
            }
        }
        #expect(await ProcessProbe.eventually { sent() == 6 })
        proxy.delay(by: .zero)
        let channel = locks[0].channel
        #expect(await ProcessProbe.eventually { client.localWriters.waitingCount(on: channel) == 6 })

        try await held.release()
        var fences: [Fence] = []
        for writer in writers { fences.append(try await writer.value) }
        // One refused attempt and one granted each. A few more come while the
        // six refusals are being registered (a writer that looks before the
        // ones ahead of it have registered sees itself first), and when the
        // subscription is confirmed: at most one more each.
        #expect(sent() >= 12 && sent() <= 18, "acquires sent: \(sent())")
        #expect(Set(fences).count == 6)
        #expect(client.localWriters.count == 0)
    }

    /// A writer held back behind a lease of its own client (a writer
    /// ahead of it, or a reader) still refreshes its intent: it keeps its
    /// place, and keeps other clients' readers out, however long that
    /// lease is held.
    @Test(arguments: [Lease.Mode.write, .read])
    func aWriterHeldBackKeepsItsIntentAlive(behind mode: Lease.Mode) async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close(); proxy.close() }
        let name = name()
        // The intent lives max(lease, 4 × retry interval) = 1.2 s unless
        // refreshed, and is refreshed every third of that: a refresh 400 ms
        // late still keeps it. The lease ahead (6 s) is renewed every 400 ms.
        let short = options(lease: .milliseconds(1200), retryInterval: .milliseconds(100), tokenPrefix: "behind")
        let ahead = try RWLock(name: name, client: client, options: options(lease: .seconds(6), retryInterval: .milliseconds(100)))
        let held = mode == .write ? try await ahead.acquireWrite() : try await ahead.acquireRead()
        let lock = try RWLock(name: name, client: client, options: short)
        let writer = Task { try await lock.acquireWrite(timeout: .seconds(30)) }
        #expect(await ProcessProbe.eventually { (try? await lock.inspect().waiting.count) == 1 })
        let firstAttempts = acquiresRun(through: proxy, tokenPrefix: "behind")
        let reader = try RWLock(name: name, client: other, options: short)
        // Three intent lifetimes (3.6 s), the lease ahead renewed meanwhile.
        for _ in 0..<9 {
            try await Task.sleep(for: .milliseconds(400))
            try await held.renew()
            #expect(try await lock.inspect().waiting.count == 1, "the held-back writer's intent lapsed")
            #expect(try await reader.withReadLockIfAvailable { true } == nil)
        }
        // Refreshed at least once per lifetime, as the server saw it.
        #expect(acquiresRun(through: proxy, tokenPrefix: "behind") - firstAttempts >= 3, "the held-back writer never refreshed")
        try await held.release()
        try await writer.value.release()
    }

    /// A writer's acquire on its way (over a slow link: 300 ms each way)
    /// holds its client's readers back until its reply is read: whatever
    /// the script decided leaves a lease or an intent that refuses them.
    @Test func readersWaitForTheirClientsWriterAttemptOnItsWay() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 4)
        defer { proxy.close() }
        defer { client.close() }
        let name = name()
        let writers = try RWLock(name: name, client: client, options: options())
        let readers = try RWLock(name: name, client: client, options: options(tokenPrefix: "readers"))
        func sent() -> Int { acquiresRun(through: proxy, tokenPrefix: "readers") }
        // Connections and scripts ready, so the attempt below is one round trip.
        try await writers.acquireWrite().release()
        proxy.delay(by: .milliseconds(300))

        let writer = Task { try await writers.acquireWrite(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { client.localWriters.attemptingCount(on: writers.channel) == 1 })
        let reader = Task { try await readers.acquireRead(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { client.subscriber.watchers(of: readers.channel) == 1 })
        // Still on its way (600 ms round trip), so what holds the reader back
        // is the attempt, not the lease it brings.
        try #require(client.localWriters.attemptingCount(on: writers.channel) == 1, "the machine was too slow to see the attempt on its way")
        #expect(sent() == 0, "a reader asked while the writer's acquire was on its way")

        let granted = try await writer.value
        #expect(sent() == 0, "a reader asked while the writer held")
        proxy.delay(by: .zero)
        try await granted.release()
        try await reader.value.release()
        #expect(sent() == 1)
        #expect(client.localWriters.count == 0)
    }

    /// A write lease its holder never releases (nor renews) holds this
    /// client's readers back no longer than the server does: until it
    /// expires. Both bounds: not before the lease's validity ends (S2), and
    /// within three leases of it, where a hold-back that outlived the lease
    /// would still wait (the acquire's timeout is 25 leases).
    @Test func anAbandonedWriteLeaseHoldsReadersBackOnlyUntilItExpires() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let name = name()
        let short = options(lease: .milliseconds(400), retryInterval: .milliseconds(100))
        let abandoned = try await RWLock(name: name, client: client, options: short).acquireWrite()
        let lock = try RWLock(name: name, client: client, options: short)
        let lease = try await lock.acquireRead(timeout: .seconds(10))
        let granted = ContinuousClock.now
        #expect(granted >= abandoned.validUntil, "a reader got in while the write lease was valid")
        #expect(granted - abandoned.validUntil < .milliseconds(1200),
                "held back \(granted - abandoned.validUntil) past the write lease's validity")
        try await lease.release()
        withExtendedLifetime(abandoned) {}
    }

    /// A writer queued behind a read lease of its own client asks the
    /// server no more while that lease is held, however many release
    /// messages other readers send meanwhile, and gets in as soon as the
    /// lease is released.
    @Test func writersBehindAReadLeaseOfTheirClientSendNothingUntilItIsDone() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        let other = try RWLockClient(url: nil)
        defer { client.close(); other.close(); proxy.close() }
        let name = name()
        let held = try await RWLock(name: name, client: client, options: options()).acquireRead()
        let lock = try RWLock(name: name, client: client, options: options(tokenPrefix: "writer"))
        func sent() -> Int { acquiresRun(through: proxy, tokenPrefix: "writer") }
        let writer = Task { try await lock.acquireWrite(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { client.localWriters.waitingCount(on: lock.channel) == 1 })
        #expect(await ProcessProbe.eventually { client.subscriber.watchers(of: lock.channel) == 1 })
        // Readers of another client that prefer readers pass the intent,
        // and each release publishes on the lock's channel.
        var preferReaders = options()
        preferReaders.preference = .readers
        let passing = try RWLock(name: name, client: other, options: preferReaders)
        let before = client.subscriber.events(on: lock.channel)
        for _ in 0..<5 { try await passing.acquireRead(timeout: .seconds(2)).release() }
        #expect(await ProcessProbe.eventually { client.subscriber.events(on: lock.channel) >= before + 5 })
        #expect(sent() == 1, "the writer asked the server while its client's reader held")

        let released = ContinuousClock.now
        try await held.release()
        let granted = try await writer.value
        let waited = ContinuousClock.now - released
        #expect(waited < .milliseconds(1200), "the writer slept its re-check interval: \(waited)")
        #expect(sent() == 2, "one refused and one granted acquire")
        try await granted.release()
        #expect(client.localWriters.count == 0)
    }

    /// A downgraded lease is a read lease: this client's writer queued
    /// behind it stays back until it is released, while readers get in.
    @Test func aDowngradedLeaseHoldsItsClientsWritersBack() async throws {
        let (client, proxy) = try clientBehindAProxy(maxConnections: 8)
        defer { client.close(); proxy.close() }
        let name = name()
        let first = try await RWLock(name: name, client: client, options: options()).acquireWrite()
        let lock = try RWLock(name: name, client: client, options: options(tokenPrefix: "writer"))
        func sent() -> Int { acquiresRun(through: proxy, tokenPrefix: "writer") }
        let writer = Task { try await lock.acquireWrite(timeout: .seconds(20)) }
        #expect(await ProcessProbe.eventually { client.localWriters.waitingCount(on: lock.channel) == 1 })
        try await first.downgrade()
        // Readers that prefer readers get in beside the downgraded lease.
        var preferReaders = options()
        preferReaders.preference = .readers
        try await RWLock(name: name, client: client, options: preferReaders).acquireRead(timeout: .seconds(2)).release()
        #expect(sent() == 1, "the writer asked the server beside a downgraded lease")

        let released = ContinuousClock.now
        try await first.release()
        let granted = try await writer.value
        #expect(ContinuousClock.now - released < .milliseconds(1200))
        #expect(sent() == 2)
        try await granted.release()
        #expect(client.localWriters.count == 0)
    }
}
