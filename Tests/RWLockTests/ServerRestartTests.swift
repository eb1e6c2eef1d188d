import Foundation
import Testing

@testable import RWLock

/// A redis-server restarted under a held lease (no persistence, so the lock's
/// keys are gone): the holder learns its lease is lost, never that it still
/// holds; the lock works again once the restart quarantine (R4) has passed;
/// fencing tokens keep growing, since
/// they derive from server time, not from a counter the restart erased.
@Suite(.enabled(if: LiveEnvironment.runs(LiveEnvironment.redisURL != nil && PrivateServer.path != nil)),
       .timeLimit(.minutes(1)))
struct ServerRestartTests {

    @Test func aRestartCostsTheLeaseNotTheLock() async throws {
        let server = try PrivateServer()
        try await server.start()
        let client = try RWLockClient(endpoint: try RedisEndpoint(url: server.socket))
        defer { client.close() }
        let lock = try RWLock(name: "restarted", client: client, options: .init(lease: .seconds(1)))
        let lease = try await lock.acquireWrite(timeout: .seconds(5))
        let before = try #require(lease.fence)

        server.kill()
        try await server.start()

        // The first call may meet the dead connection (.connection); a retry
        // reaches the new, empty server, which holds no such lease.
        var kinds: [RWLockError.Kind] = []
        for _ in 0..<3 {
            do {
                try await lease.renew()
                Issue.record("a renew after the restart claimed the lease still held")
                break
            } catch let error as RWLockError {
                kinds.append(error.kind)
                if error.kind == .leaseLost { break }
            }
        }
        print("renew after the restart: \(kinds)")
        #expect(kinds.last == .leaseLost, "renew after a restart: \(kinds)")
        #expect(kinds.allSatisfy { $0 == .connection || $0 == .leaseLost })

        let after = try await lock.withWriteLock(timeout: .seconds(5)) { fence in fence }
        #expect(after > before, "fences keep growing across a restart that erased the fence key")
        // R4: not before the restarted server has been up for a lease.
        let granted = ContinuousClock.now - (server.startedAt ?? .now)
        #expect(granted >= .seconds(1), "granted \(granted) after the restart, inside the quarantine")
    }

    /// R1 when the server freezes: a renewal sent to a stopped server gets
    /// no answer until the command timeout (3 s here), but the lease (300 ms)
    /// cannot be trusted past its deadline meanwhile. The keeper stops
    /// waiting for the renewal there: the body is cancelled and the scoped
    /// call throws leaseLost well before the command timeout.
    @Test func aFrozenServerCostsTheLeaseAtItsDeadlineNotAtTheCommandTimeout() async throws {
        let server = try PrivateServer()
        try await server.start()
        defer { server.send(SIGCONT) }
        let client = try RWLockClient(endpoint: try RedisEndpoint(url: server.socket), configuration: .init(commandTimeout: .seconds(3)))
        defer { client.close() }
        let lock = try RWLock(name: "frozen", client: client, options: .init(lease: .milliseconds(300)))
        let entered = Box<ContinuousClock.Instant?>(nil)
        let stopped = Box<ContinuousClock.Instant?>(nil)
        let error = await #expect(throws: RWLockError.self) {
            try await lock.withWriteLock { _ in
                entered.withLock { $0 = ContinuousClock.now }
                server.send(SIGSTOP)
                do {
                    try await Task.sleep(for: .seconds(10))
                } catch {
                    stopped.withLock { $0 = ContinuousClock.now }
                    throw error
                }
            }
        }
        #expect(error?.kind == .leaseLost, "\(String(describing: error))")
        // (withWriteLock itself returns later: its release waits for the frozen server.)
        let ran = try #require(stopped.value) - (entered.value ?? .now)
        #expect(ran < .seconds(2), "the body ran \(ran) on a lease of 300 ms")
    }
}
