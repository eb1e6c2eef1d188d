import Foundation
import MetricsTestKit
import Testing

@testable import RWLock

/// The metrics a lock publishes through swift-metrics, read back with its
/// own test backend: every name, dimension and outcome the README lists.
@Suite(.enabled(if: LiveEnvironment.hasServer), .timeLimit(.minutes(1)))
struct MetricsTests {
    let client: RWLockClient
    let metrics = TestMetrics()

    init() throws { client = try RWLockClient(url: nil) }

    func lock(includeName: Bool = true, lease: Duration = .seconds(1)) throws -> RWLock {
        var options = RWLock.Options(lease: lease)
        options.metricsIncludeLockName = includeName
        return try RWLock(name: "metrics-\(UUID().uuidString.prefix(8))", client: client, options: options, metricsFactory: metrics)
    }

    func dimensions(_ lock: RWLock, _ mode: String, _ outcome: String? = nil) -> [(String, String)] {
        [("mode", mode), ("lock", lock.name)] + (outcome.map { [("outcome", $0)] } ?? [])
    }

    func waits(_ lock: RWLock, _ mode: String, _ outcome: String) throws -> [Int64] {
        try metrics.expectTimer("rwlock_acquire_wait", dimensions(lock, mode, outcome)).values
    }

    @Test func aScopedHoldIsCountedFromGrantToRelease() async throws {
        let lock = try lock()
        let holders = try metrics.expectMeter("rwlock_holders", dimensions(lock, "write"))
        let during = try await lock.withWriteLock { _ in holders.lastValue }
        #expect(during == 1)
        #expect(holders.lastValue == 0)
        #expect(try waits(lock, "write", "granted").count == 1)
        let holds = try metrics.expectTimer("rwlock_hold", dimensions(lock, "write")).values
        #expect(holds.count == 1 && holds[0] > 0)
        #expect(try metrics.expectCounter("rwlock_leases_lost", dimensions(lock, "write")).totalValue == 0)
    }

    @Test func everyOutcomeOfAnAcquireIsRecorded() async throws {
        let lock = try lock()
        let holder = try await lock.acquireWrite()
        #expect(try await lock.withReadLockIfAvailable { true } == nil)
        #expect(try waits(lock, "read", "refused").count == 1)

        let waiters = try metrics.expectMeter("rwlock_waiters", dimensions(lock, "read"))
        await #expect(throws: RWLockError.self) { try await lock.withReadLock(timeout: .milliseconds(100)) {} }
        #expect(try waits(lock, "read", "timed_out").count == 1)
        #expect(waiters.values.contains(1) && waiters.lastValue == 0, "\(waiters.values)")

        let cancelled = Task { try await lock.withReadLock {} }
        #expect(await ProcessProbe.eventually { waiters.lastValue == 1 }, "the reader never counted as waiting")
        cancelled.cancel()
        await #expect(throws: RWLockError.self) { try await cancelled.value }
        #expect(try waits(lock, "read", "cancelled").count == 1)
        #expect(waiters.lastValue == 0)
        try await holder.release()
        #expect(try waits(lock, "write", "granted").count == 1)
    }

    @Test func aLostLeaseAndItsFailedRenewalAreCounted() async throws {
        let lock = try lock(lease: .seconds(1))
        let error = await #expect(throws: RWLockError.self) {
            try await lock.withWriteLock { _ in
                let token = try #require(try await lock.inspect().writer?.token)
                _ = try await lock.evict(token: token)
                // The body runs until the next renewal finds the lease gone.
                _ = await ProcessProbe.eventually { Task.isCancelled }
            }
        }
        #expect(error?.kind == .leaseLost)
        #expect(try metrics.expectCounter("rwlock_leases_lost", dimensions(lock, "write")).totalValue == 1)
        // The refused renewal; a loaded machine may add a timed-out one.
        #expect(try metrics.expectCounter("rwlock_renewals_failed", dimensions(lock, "write")).totalValue >= 1)
        #expect(try metrics.expectMeter("rwlock_holders", dimensions(lock, "write")).lastValue == 0)
    }

    @Test func theLockNameIsADimensionOnlyWhenAskedFor() async throws {
        let lock = try lock(includeName: false)
        try await lock.withReadLock {}
        let timers = metrics.timers(label: "rwlock_acquire_wait")
        #expect(timers.contains { $0.dimensions.map(\.0) == ["mode", "outcome"] })
        #expect(!metrics.timers(label: "rwlock_hold").contains { $0.dimensions.contains { $0.0 == "lock" && $0.1 == lock.name } })
    }
}
