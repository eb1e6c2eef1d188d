import Foundation
import Synchronization
import Testing

@testable import RWLock

/// Everything that runs against the local cluster, one test at a time: the
/// failover tests kill masters, which must not happen under another test.
@Suite("Redis Cluster", .serialized, .enabled(if: ClusterFixture.isAvailable), .timeLimit(.minutes(5)))
enum ClusterTests {}

private func uniqueName(_ test: String = #function) -> String {
    "c-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))"
}

extension ClusterTests {
    @Suite("Routing and overlap") struct Routing {
        @Test func hashSlotsAgreeWithTheServer() async throws {
            let admin = try ClusterFixture.admin(ClusterFixture.allNodes[0])
            defer { admin.close() }
            var keys = ["", "a", "{", "}", "{}", "{a}", "x{}y{z}", "rwlock:{orders}:writer", "é{ü}"]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<200 {
                let length = Int.random(in: 1...20, using: &generator)
                keys.append(String((0..<length).map { _ in "ab{}:xyz0123".randomElement(using: &generator)! }))
            }
            for key in keys {
                let reply = try await admin.send(["CLUSTER", "KEYSLOT", key])
                #expect(reply == .integer(Int64(HashSlot(key: Array(key.utf8)).number)), "slot of \(key.debugDescription)")
            }
        }

        /// LockLiveTests' overlap workload, on three locks at once, one per
        /// master: no writer ever overlaps anyone on its lock.
        @Test func readersShareWritersExcludeEveryoneOnEveryMaster() async throws {
            let layout = try await ClusterFixture.layout()
            #expect(layout.map.masters.count == 3)
            let names = ClusterFixture.namesOnEveryMaster(uniqueName(), layout: layout)
            let client = try ClusterFixture.client(maxConnections: 8)
            defer { client.close() }
            let locks = try names.values.sorted().map {
                try RWLock(name: $0, client: client, options: .init(lease: .milliseconds(500)))
            }
            let timelines = locks.map { _ in Timeline() }
            let fences = locks.map { _ in Box<[Fence]>([]) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, lock) in locks.enumerated() {
                    for worker in 0..<8 {
                        group.addTask {
                            for round in 0..<6 {
                                if (worker + round) % 3 == 0 {
                                    try await lock.withWriteLock(timeout: .seconds(30)) { fence in
                                        fences[index].withLock { $0.append(fence) }
                                        try await timelines[index].record(.write) { try await Task.sleep(for: .milliseconds(3)) }
                                    }
                                } else {
                                    try await lock.withReadLock(timeout: .seconds(30)) {
                                        try await timelines[index].record(.read) { try await Task.sleep(for: .milliseconds(5)) }
                                    }
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            for (index, lock) in locks.enumerated() {
                #expect(timelines[index].all.count == 48)
                let overlaps = timelines[index].overlapsBreakingExclusion()
                #expect(overlaps.isEmpty, "lock \(lock.name): \(overlaps.count) overlaps with a writer")
                #expect(fences[index].value == fences[index].value.sorted() && Set(fences[index].value).count == 16,
                        "fences of \(lock.name) in grant order: \(fences[index].value)")
            }
            // Each lock's keys really are on its own master: its fence key is
            // there, and every other master redirects to that one.
            for (master, name) in names {
                let slot = HashSlot(key: Array(name.utf8))
                for other in layout.map.masters {
                    let admin = try ClusterFixture.admin(other)
                    defer { admin.close() }
                    let exists = try await admin.send(["EXISTS", "rwlock:{\(name)}:fence"])
                    #expect(exists == (other == master ? .integer(1) : .error("MOVED \(slot) \(master)")), "fence of \(name) on \(other)")
                }
            }
        }

        /// The rwlock command's own overlap test, with --url pointing at the
        /// cluster: five processes, one at a time inside.
        @Test func rwlockProcessesDoNotOverlap() async throws {
            let name = uniqueName()
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-cluster-log-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let script = "echo enter $$ >> \"$0\"; sleep 0.05; echo leave $$ >> \"$0\""
            let runs = try (0..<5).map { _ in
                try RwlockCommandTests.Run(["write", name, "--url", try ClusterFixture.requireURL(), "--lease", "2s", "--timeout", "60s", "--", "sh", "-c", script, log.path])
            }
            for run in runs {
                let result = try await run.finish()
                #expect(result.status == 0, "\(result.stderr)")
            }
            let lines = String(decoding: try Data(contentsOf: log), as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 10)
            for pair in stride(from: 0, to: lines.count - 1, by: 2) {
                let enter = lines[pair].split(separator: " "), leave = lines[pair + 1].split(separator: " ")
                #expect(enter.first == "enter" && leave.first == "leave" && enter.last == leave.last, "\(lines)")
            }
        }

        /// The subscriber listens on one node; releases published on another
        /// master still wake waiters, because a cluster forwards PUBLISH to
        /// every node. With a 10 s retry interval and a 30 s holder lease, a
        /// waiter that was not woken would sleep for seconds.
        @Test func aReleaseOnAnotherNodeWakesTheWaiter() async throws {
            let layout = try await ClusterFixture.layout()
            let client = try ClusterFixture.client()
            defer { client.close() }
            _ = try await client.send(["PING"])  // learn the slot map
            guard case .tcp(let host, let port) = client.router!.subscriptionEndpoint(attempt: 0).address else {
                Issue.record("the subscriber would not use TCP")
                return
            }
            let listening = NodeAddress(host: host, port: port)
            let far = try #require(layout.map.masters.first { $0 != listening })
            let options = RWLock.Options(lease: .seconds(30), retryInterval: .seconds(10), restartQuarantine: .disabled)
            let lock = try RWLock(name: ClusterFixture.name(on: far, uniqueName(), layout: layout), client: client, options: options)
            let held = try await lock.acquireWrite()
            let granted = Task { try await lock.withReadLock(timeout: .seconds(60)) { ContinuousClock.now } }
            #expect(try await ClusterFixture.eventually { await ClusterFixture.subscribers(to: lock.channel, on: [listening]) > 0 },
                    "the waiter's channel was never subscribed on \(listening)")
            let released = ContinuousClock.now
            try await held.release()
            let wokeAfter = try await granted.value - released
            #expect(wokeAfter < .seconds(2), "the reader got in \(wokeAfter) after the release")
        }
    }
}

extension ClusterTests.Routing {
    /// `rwlock --replicas N` on the cluster: one replica per master confirms
    /// a grant (COMMAND runs, exit 0); two cannot, so the grant is released
    /// unused and rwlock exits 69 without running COMMAND.
    @Test func rwlockReplicasCountsConfirmedGrantsOnly() async throws {
        let name = "c-replicas-\(UUID().uuidString.prefix(8))"
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-replicas-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: marker) }
        let confirmed = try await RwlockCommandTests.Run(
            ["write", name, "--url", try ClusterFixture.requireURL(), "--replicas", "1", "--timeout", "30s", "--", "true"]).finish()
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        let unconfirmed = try await RwlockCommandTests.Run(
            ["write", name, "--url", try ClusterFixture.requireURL(), "--replicas", "2", "--timeout", "30s", "--", "touch", marker.path]).finish()
        #expect(unconfirmed.status == 69, "\(unconfirmed.stderr)")
        #expect(unconfirmed.stderr.contains("replicas"), "\(unconfirmed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker.path), "COMMAND ran without a confirmed grant")
        let client = try ClusterFixture.client()
        defer { client.close() }
        #expect(try await RWLock(name: name, client: client).inspect().writer == nil, "the unconfirmed grant was released")
    }
}

extension ClusterTests.Routing {
    /// R3 per master: one master set to evict (`maxmemory` with
    /// `allkeys-lru`) refuses the locks it serves with `.unsafeServer`, while
    /// a lock on another master is granted by the same client.
    @Test func anEvictingMasterRefusesOnlyItsOwnLocks() async throws {
        let layout = try await ClusterFixture.layout()
        let evicting = try #require(layout.map.masters.sorted { $0.port < $1.port }.first)
        let other = try #require(layout.map.masters.first { $0 != evicting })
        let admin = try ClusterFixture.admin(evicting)
        defer { admin.close() }
        _ = try await admin.send(["CONFIG", "SET", "maxmemory", "1gb"])
        _ = try await admin.send(["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        // A new client: its connections read INFO afresh.
        let client = try ClusterFixture.client()
        defer { client.close() }
        let outcome: Result<Void, any Error>
        do {
            try await refusesOnlyOnTheEvictingMaster(client, evicting, other, layout)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        // Restored before the next test: the suite's other tests share the cluster.
        _ = try await admin.send(["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        _ = try await admin.send(["CONFIG", "SET", "maxmemory", "0"])
        try outcome.get()
    }

    private func refusesOnlyOnTheEvictingMaster(
        _ client: RWLockClient, _ evicting: NodeAddress, _ other: NodeAddress, _ layout: ClusterFixture.Layout
    ) async throws {
        let options = RWLock.Options(restartQuarantine: .disabled)
        let refused = try RWLock(name: ClusterFixture.name(on: evicting, uniqueName(), layout: layout), client: client, options: options)
        let error = await #expect(throws: RWLockError.self) { _ = try await refused.acquireWrite(timeout: .seconds(5)) }
        #expect(error?.kind == .unsafeServer, "\(String(describing: error))")
        #expect(error.map(String.init(describing:))?.contains("allkeys-lru") == true)
        let granted = try RWLock(name: ClusterFixture.name(on: other, uniqueName(), layout: layout), client: client, options: options)
        let fence = try await granted.withWriteLock(timeout: .seconds(5)) { fence in fence }
        #expect(fence.value > 0, "the lock on \(other) was refused too")
    }
}
