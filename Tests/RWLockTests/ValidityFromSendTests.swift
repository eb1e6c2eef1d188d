import Foundation
import Testing

@testable import RWLock

/// R1 live: a lease's validity runs from the *sending* of its grant's
/// request, never from the reply. The client's commands go through a
/// loopback proxy that holds the server's replies back; the requests go at
/// once, so the server grants at the send and the reply comes late.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct ValidityFromSendTests {
    func proxiedClient() throws -> (RWLockClient, LoopbackProxy) {
        let url = try LiveEnvironment.requireServer()
        let proxy = try LoopbackProxy(upstreamPort: try #require(ProcessProbe.port(of: url)))
        let client = try RWLockClient(deployment: .server(try RedisEndpoint(url: proxy.url)), configuration: .init(maxConnections: 2, connectTimeout: .seconds(5), commandTimeout: .seconds(5), clusterRetryWindow: .zero), subscriberEndpoint: try RedisEndpoint(url: url))
        return (client, proxy)
    }

    func name(_ test: String = #function) -> String { "r1-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    /// An 800 ms late reply leaves 800 ms less validity: measured from the
    /// send, the deadline is the lease less the drift margin after the call
    /// began; measured from the reply it would be 800 ms later.
    @Test func aLateReplyLeavesCorrespondinglyLessValidity() async throws {
        let (client, proxy) = try proxiedClient()
        let direct = try RWLockClient(url: nil)
        defer { client.close(); direct.close(); proxy.close() }
        let lock = try RWLock(name: name(), client: client, options: .init(lease: .seconds(3)))
        // Connection, INFO and scripts ready: the acquire below is one EVALSHA.
        try await lock.acquireWrite().release()
        proxy.delayReplies(by: .milliseconds(800))

        let called = ContinuousClock.now
        let lease = try await lock.acquireWrite(timeout: .seconds(10))
        let received = ContinuousClock.now
        proxy.delayReplies(by: .zero)
        defer { Task { try? await lease.release() } }
        #expect(received - called >= .milliseconds(800), "the reply was not held back: the test proves nothing")

        let leaseLessDrift = Duration.seconds(3) - lock.options.driftMargin
        let fromCall = lease.validUntil - called
        print("R1: reply 800 ms late; validity \(fromCall) from the call, \(lease.validUntil - received) left at the reply")
        #expect(fromCall >= leaseLessDrift, "validity ends before the earliest possible send")
        // From the reply it would be at least leaseLessDrift + 800 ms.
        #expect(fromCall < leaseLessDrift + .milliseconds(250), "validity measured from the reply, not the send: \(fromCall)")
        // The client trusts less than the server still grants.
        let writerKey = "rwlock:{\(lock.name)}:writer"
        guard case .integer(let pttl) = try await direct.send(["PTTL", writerKey]) else {
            Issue.record("PTTL of \(writerKey) did not answer an integer")
            return
        }
        let trusted = lease.validUntil - ContinuousClock.now
        #expect(trusted < .milliseconds(pttl), "the client trusts \(trusted), the server holds \(pttl) ms")
    }

    /// A grant whose reply comes too late to leave useful validity (a third
    /// of the lease) is released unused: the body never runs, and the server
    /// receives the release while it still holds the lease.
    @Test func aGrantDelayedPastUsefulValidityIsReleasedUnused() async throws {
        let (client, proxy) = try proxiedClient()
        defer { client.close(); proxy.close() }
        let lock = try RWLock(name: name(), client: client, options: .init(lease: .milliseconds(1500), tokenPrefix: "late"))
        try await lock.acquireWrite().release()
        // 1490 ms of validity less 1200 ms of delay leaves 290 ms: under the
        // useful 500 ms.
        proxy.delayReplies(by: .milliseconds(1200))
        let ran = Box(false)
        let result = try await lock.withWriteLockIfAvailable { _ in ran.withLock { $0 = true } }
        #expect(result == nil)
        #expect(!ran.value, "the body ran on a grant that came too late")

        let exchanges = proxy.forwarded
        let grant = try #require(exchanges.last { $0.words.count > 10 && $0.words[1] == LockScript.acquireWrite.sha1 },
                                 "no acquire reached the server")
        #expect(grant.replyWords.first == "1", "the late acquire was not a grant: \(grant.replyWords)")
        let token = try #require(grant.words.first { $0.hasPrefix("late:") })
        let release = try #require(exchanges.last { $0.words.count > 2 && $0.words[1] == LockScript.release.sha1 && $0.words.contains(token) },
                                   "the late grant was never released")
        // :1: the server still held the lease when the release came.
        #expect(release.reply == ":1", "the release found \(release.reply ?? "no reply"): the lease had expired instead")
    }
}
