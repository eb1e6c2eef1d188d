import Foundation
import Testing

@testable import RWLock

#if canImport(Glibc)
import Glibc
#endif

extension ClusterTests {
    /// Masters killed under held locks. Each test restarts the node it
    /// killed and waits for a whole cluster before it ends.
    ///
    /// The locks here turn the restart quarantine off: the cluster is as
    /// young as the test run, a node these tests restart rejoins as a
    /// replica and resyncs (it forgets nothing), and what is under test is
    /// what the promoted replica grants. RestartQuarantineTests covers R4.
    @Suite("Failover") struct Failover {
        /// Leases whose grants WAIT confirmed on the replica survive the
        /// master's death: the promoted replica still has them, so nobody
        /// else gets in, and once a replica is back their holder renews them
        /// there. A lock on another master stays usable throughout, and the
        /// fence keeps growing.
        @Test func confirmedLeasesSurviveTheirMastersDeath() async throws {
            let layout = try await ClusterFixture.layoutWithReplicas()
            let doomed = layout.map.masters[0]
            let heir = try #require(layout.replicas[doomed]?.first, "\(doomed) has no replica in \(layout.replicas)")
            let survivor = layout.map.masters[1]
            let prefix = "c-failover-\(UUID().uuidString.prefix(8))"

            let client = try ClusterFixture.client(retryWindow: .seconds(30))
            defer { client.close() }
            // Long enough to outlast the failover and the heal on a loaded machine.
            let options = RWLock.Options(lease: .seconds(120), replicatedGrants: .init(replicas: 1, timeout: .milliseconds(500)),
                                         restartQuarantine: .disabled)
            let written = try RWLock(name: ClusterFixture.name(on: doomed, prefix + "-w", layout: layout), client: client, options: options)
            let read = try RWLock(name: ClusterFixture.name(on: doomed, prefix + "-r", layout: layout), client: client, options: options)
            let elsewhere = try RWLock(name: ClusterFixture.name(on: survivor, prefix + "-e", layout: layout), client: client)
            let writeLease = try await written.acquireWrite(timeout: .seconds(10))
            let readLeases = [try await read.acquireRead(timeout: .seconds(10)), try await read.acquireRead(timeout: .seconds(10))]
            let fence = try #require(writeLease.fence)

            let validity = try await ClusterFixture.killing(doomed) {
                let killed = ContinuousClock.now
                // The other master's lock works meanwhile (the router rides out
                // the second or so of CLUSTERDOWN while the failover completes).
                _ = try await elsewhere.withWriteLock(timeout: .seconds(30)) { $0 }

                // A contender on the dead master's locks waits out the failover in
                // the router (its commands could not run, so they are retried) and
                // then meets the grants on the promoted replica: still held.
                let writeContender = try RWLock(name: written.name, client: client)
                let readContender = try RWLock(name: read.name, client: client)
                #expect(try await writeContender.withReadLockIfAvailable { true } == nil)
                print("failover: the promoted replica answered \(ContinuousClock.now - killed) after the kill")
                #expect(try await readContender.withWriteLockIfAvailable { _ in true } == nil)
                #expect(try await readContender.inspect().readers.count == 2)
                #expect(client.router?.slotMap?[HashSlot(key: Array(written.name.utf8))] == heir)
                // The dead master left the map, and its pool (threads) with it.
                #expect(client.router?.pooledNodes.contains(doomed) == false)
                #expect(try await ClusterFixture.waitUntilMaster(heir))

                // With no replica left, a renewal cannot be confirmed: it does not
                // extend the lease, and says why.
                let validity = writeLease.validUntil
                let unconfirmed = await #expect(throws: RWLockError.self) { try await writeLease.renew() }
                #expect(unconfirmed?.kind == .notReplicated, "\(String(describing: unconfirmed))")
                #expect(writeLease.validUntil == validity)
                return validity
            }
            // The old master is back as the heir's replica: renewals are
            // confirmed again.
            try await writeLease.renew()
            for lease in readLeases { try await lease.renew() }
            #expect(writeLease.validUntil > validity)
            try await writeLease.release()
            for lease in readLeases { try await lease.release() }
            let next = try await written.withWriteLock(timeout: .seconds(10)) { $0 }
            #expect(next > fence)
        }

        /// The client's one subscriber connection listens on a master; when
        /// that master dies, the subscriber moves to another node and
        /// subscribes again, so a waiter there is still woken by a release
        /// (not by its 10 s re-check).
        @Test func waitersStillWakeWhenTheirSubscriberNodeDies() async throws {
            let layout = try await ClusterFixture.layoutWithReplicas()
            let client = try ClusterFixture.client(retryWindow: .seconds(30))
            defer { client.close() }
            _ = try await client.send(["PING"])  // learn the slot map
            guard case .tcp(let host, let port) = client.router!.subscriptionEndpoint(attempt: 0).address else {
                Issue.record("the subscriber would not use TCP")
                return
            }
            let listening = NodeAddress(host: host, port: port)
            let other = try #require(layout.map.masters.first { $0 != listening })
            let options = RWLock.Options(lease: .seconds(60), retryInterval: .seconds(10), restartQuarantine: .disabled)
            let lock = try RWLock(
                name: ClusterFixture.name(on: other, "c-wake-\(UUID().uuidString.prefix(8))", layout: layout),
                client: client, options: options)
            let held = try await lock.acquireWrite(timeout: .seconds(10))
            let reader = Task { try await lock.withReadLock(timeout: .seconds(90)) { ContinuousClock.now } }
            #expect(try await ClusterFixture.eventually { await ClusterFixture.subscribers(to: lock.channel, on: [listening]) > 0 },
                    "the waiter's channel was never subscribed on \(listening)")

            try await ClusterFixture.killing(listening) {
                let live = ClusterFixture.allNodes.filter { $0 != listening }
                #expect(try await ClusterFixture.eventually(within: .seconds(30)) {
                    await ClusterFixture.subscribers(to: lock.channel, on: live) > 0
                }, "the subscriber never moved to a live node")
                try await held.release()
                let released = ContinuousClock.now
                let woke = try await reader.value - released
                #expect(woke < .seconds(3), "the reader got in \(woke) after the release")
            }
        }

        /// What asynchronous replication can lose, and how fencing contains
        /// it. The replica is frozen (SIGSTOP) and cut off from its master
        /// (CLIENT KILL TYPE replica), so writer A's grant never leaves the
        /// master; the master is killed and the replica forced to take over
        /// without it. Writer B is then granted the same lock while A still
        /// believes it holds it: two writers at once, which no lock on
        /// asynchronously replicated Redis can rule out. B's fence is larger,
        /// so a store that checks fences rejects A's stale write, and A learns
        /// at its next renewal that the lease is gone. With replicated
        /// grants, the same grant is refused as unconfirmed instead.
        @Test func fencingRejectsTheWriterWhoseGrantTheFailoverLost() async throws {
            let layout = try await ClusterFixture.layoutWithReplicas()
            let doomed = layout.map.masters[1]
            let heir = try #require(layout.replicas[doomed]?.first, "\(doomed) has no replica in \(layout.replicas)")
            let prefix = "c-fencing-\(UUID().uuidString.prefix(8))"
            let name = ClusterFixture.name(on: doomed, prefix, layout: layout)
            let store = FencedStore()

            let clientA = try ClusterFixture.client()
            defer { clientA.close() }
            let lockA = try RWLock(name: name, client: clientA, options: .init(lease: .seconds(30), restartQuarantine: .disabled))
            let confirmed = try RWLock(
                name: ClusterFixture.name(on: doomed, prefix + "-confirmed", layout: layout), client: clientA,
                options: .init(lease: .seconds(30), replicatedGrants: .init(replicas: 1, timeout: .milliseconds(300)),
                              restartQuarantine: .disabled))
            _ = try await lockA.inspect()  // connections and scripts ready before the freeze

            // SIGSTOP alone is not enough: the kernel would still buffer the
            // replication stream for the frozen replica, which would read the
            // grant once resumed. Cutting the link keeps it on the master.
            try ClusterFixture.signal(heir, SIGSTOP)
            var resumed = false
            defer { if !resumed { try? ClusterFixture.signal(heir, SIGCONT) } }
            let master = try ClusterFixture.admin(doomed)
            defer { master.close() }
            #expect(try await master.send(["CLIENT", "KILL", "TYPE", "replica"]) == .integer(1))
            let leaseA = try await lockA.acquireWrite(timeout: .seconds(5))
            let fenceA = try #require(leaseA.fence)
            _ = await store.write("A's first value", fence: fenceA)
            // Replicated grants see the frozen replica and refuse to count
            // the grant; it is released unused.
            let refused = await #expect(throws: RWLockError.self) { try await confirmed.acquireWrite(timeout: .seconds(5)) }
            #expect(refused?.kind == .notReplicated, "\(String(describing: refused))")
            #expect(try await confirmed.inspect().writer == nil)

            try await ClusterFixture.killing(doomed) {
                let killed = ContinuousClock.now
                try ClusterFixture.signal(heir, SIGCONT)
                resumed = true
                let admin = try ClusterFixture.admin(heir)
                defer { admin.close() }
                #expect(try await admin.send(["CLUSTER", "FAILOVER", "TAKEOVER"]) == .status("OK"))
                #expect(try await ClusterFixture.waitUntilMaster(heir))
                print("fencing: heir is master \(ContinuousClock.now - killed) after the kill")

                let clientB = try ClusterFixture.client()
                defer { clientB.close() }
                let lockB = try RWLock(name: name, client: clientB, options: .init(lease: .seconds(30), restartQuarantine: .disabled))
                let leaseB = try await lockB.acquireWrite(timeout: .seconds(30))
                let fenceB = try #require(leaseB.fence)
                print("fencing: B was granted \(ContinuousClock.now - killed) after the kill")

                #expect(leaseA.isValid, "A still believes it holds the write lease: the lost grant")
                #expect(fenceB > fenceA, "fences grow across the failover: A \(fenceA), B \(fenceB)")
                #expect(await store.write("B's value", fence: fenceB), "B's fence is not below A's")
                #expect(await store.write("A's stale value", fence: fenceA) == false)
                #expect(await store.value == "B's value")

                let lost = await #expect(throws: RWLockError.self) { try await leaseA.renew() }
                #expect(lost?.kind == .leaseLost, "\(String(describing: lost))")
                try await leaseB.release()
                print("fencing: A learned it lost the lease \(ContinuousClock.now - killed) after the kill")
            }
        }
    }
}
