import Foundation
import Testing

@testable import RWLock

extension ClusterTests {
    /// A lock's slot moved from one master to another the way
    /// `redis-cli --cluster reshard` moves it (SETSLOT IMPORTING/MIGRATING,
    /// MIGRATE, SETSLOT NODE), while a writer waits: the router meets
    /// TRYAGAIN, ASK and MOVED in turn and the writer gets in on the new
    /// master with a larger fence.
    @Suite("Slot migration") struct Migration {
        @Test func aWriterFollowsItsLocksSlotToAnotherMaster() async throws {
            let layout = try await ClusterFixture.layout()
            let source = layout.map.masters[0]
            let target = layout.map.masters[1]
            let name = ClusterFixture.name(on: source, "c-migrate-\(UUID().uuidString.prefix(8))", layout: layout)
            let slot = String(HashSlot(key: Array(name.utf8)).number)
            let fenceKey = "rwlock:{\(name)}:fence"

            let client = try ClusterFixture.client()
            defer { client.close() }
            let lock = try RWLock(name: name, client: client)
            let before = try await lock.withWriteLock { $0 }

            let (from, to) = (try ClusterFixture.admin(source), try ClusterFixture.admin(target))
            defer { from.close(); to.close() }
            let sourceID = try #require(try await from.send(["CLUSTER", "MYID"]).string)
            let targetID = try #require(try await to.send(["CLUSTER", "MYID"]).string)
            #expect(try await to.send(["CLUSTER", "SETSLOT", slot, "IMPORTING", sourceID]) == .status("OK"))
            #expect(try await from.send(["CLUSTER", "SETSLOT", slot, "MIGRATING", targetID]) == .status("OK"))

            let writer = Task { try await lock.withWriteLock(timeout: .seconds(30)) { $0 } }
            let router = try #require(client.router)
            // The fence key is still on the source, the other keys are not:
            // a multi-key script there is refused with TRYAGAIN.
            #expect(try await ClusterFixture.eventually { router.statistics.retries >= 1 }, "no TRYAGAIN retry: \(router.statistics)")

            // Move the fence key: now every key is missing on the source, which
            // answers ASK; the target, asked, still lacks some keys: TRYAGAIN.
            let migrated = try await from.send(["MIGRATE", target.host, String(target.port), "", "0", "5000", "KEYS", fenceKey])
            #expect(migrated == .status("OK"))
            #expect(try await ClusterFixture.eventually { router.statistics.asked >= 1 }, "no ASK followed: \(router.statistics)")

            // Hand the slot over for good: the source answers MOVED.
            for node in [target, source] + layout.map.masters.dropFirst(2) {
                let admin = try ClusterFixture.admin(node)
                defer { admin.close() }
                #expect(try await admin.send(["CLUSTER", "SETSLOT", slot, "NODE", targetID]) == .status("OK"))
            }
            let after = try await writer.value
            #expect(after > before, "the fence grew across the move: \(before) then \(after)")
            // The writer's last retry may have reached the target by ASK
            // between the two SETSLOT NODEs; the next operation meets MOVED.
            let later = try await lock.withWriteLock { $0 }
            #expect(later > after)
            #expect(router.statistics.moved >= 1, "\(router.statistics)")
            #expect(router.slotMap?[HashSlot(key: Array(name.utf8))] == target)
            #expect(try await to.send(["EXISTS", fenceKey]) == .integer(1))
            #expect(try await from.send(["EXISTS", fenceKey]) == .error("MOVED \(slot) \(target)"))
        }
    }
}
