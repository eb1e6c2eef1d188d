import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R2 against a real partition: `rwlock` holds a lock through a loopback
    /// proxy that the test silences (bytes dropped both ways, sockets left
    /// open). Another writer gets in once the lease ends on the server; by then
    /// nothing of the first holder's job may run: not COMMAND, not its worker,
    /// not the worker's children.
    @Suite(.enabled(if: RwlockCommandTests.live), .timeLimit(.minutes(2)))
    struct PartitionTests {
        typealias Run = RwlockCommandTests.Run

        @Test(arguments: [1, 3])
        func aPartitionedHoldersWholeJobIsDeadBeforeAnotherWriterGetsIn(leaseSeconds: Int) async throws {
            let redisURL = try #require(RwlockCommandTests.redisURL)
            let proxy = try LoopbackProxy(upstreamPort: try #require(ProcessProbe.port(of: redisURL)))
            defer { proxy.close() }
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (work, workerPid, terminated, bStart) = (
                files.appendingPathComponent("work").path, files.appendingPathComponent("worker.pid").path,
                files.appendingPathComponent("term").path, files.appendingPathComponent("b").path)
            let name = "partition-\(UUID().uuidString.prefix(8))"

            let holder = try Run(["write", name, "--lease", "\(leaseSeconds)s", "--url", proxy.url, "--"]
                                 + slowToStopJob + [work, workerPid, terminated])
            #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: work).isEmpty }, "the job never worked")
            // The worker starts before its shell writes its pid: wait for both.
            #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: workerPid) != nil })
            let worker = try #require(ProcessProbe.pid(in: workerPid))

            proxy.silence()
            let silenced = ContinuousClock.now
            let second = try Run(["write", name, "--lease", "1s", "--timeout", "30s", "--", "sh", "-c",
                                  "date +%s%N > \"$1\"", "b", bStart])
            let secondResult = try await second.finish()
            let grantedAfter = ContinuousClock.now - silenced
            let holderResult = try await holder.finish()
            let workerRanOn = ProcessProbe.isRunning(worker)

            #expect(secondResult.status == 0, "the second writer: \(secondResult.stderr)")
            #expect(holderResult.status == 70, "the partitioned holder must exit 70: \(holderResult.stderr)")
            #expect(holderResult.stderr.contains("lease was lost"))
            #expect(!workerRanOn, "COMMAND's worker outlived rwlock")
            let lastWork = try #require(ProcessProbe.timestamps(in: work).max())
            let secondStarted = try #require(ProcessProbe.timestamps(in: bStart).first)
            let termAt = ProcessProbe.timestamps(in: terminated).first
            print("""
                partition, lease \(leaseSeconds)s: second writer in \(grantedAfter) after the silence; \
                first job's last work \((secondStarted - lastWork) / 1_000_000) ms before it\
                \(termAt.map { "; SIGTERM \((secondStarted - $0) / 1_000_000) ms before it" } ?? "")
                """)
            #expect(lastWork < secondStarted, "the first job worked after the second writer was granted")
            // SIGTERM came first (with the default grace, a third of the lease), not SIGKILL alone.
            #expect(termAt != nil, "the job's shell never saw SIGTERM")
        }

        /// The same job without a partition, its lease evicted by an operator: the
        /// renewal is refused, and the whole group is stopped, not COMMAND alone.
        @Test func aLostLeaseStopsCommandsGrandchildren() async throws {
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (work, workerPid, terminated) = (
                files.appendingPathComponent("work").path, files.appendingPathComponent("worker.pid").path,
                files.appendingPathComponent("term").path)
            let name = "evicted-\(UUID().uuidString.prefix(8))"
            let holder = try Run(["write", name, "--lease", "600ms", "--"] + slowToStopJob + [work, workerPid, terminated])
            #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: work).isEmpty })
            // The worker starts before its shell writes its pid: wait for both.
            #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: workerPid) != nil })
            let worker = try #require(ProcessProbe.pid(in: workerPid))
            let lock = try RWLock(name: name, client: RWLockClient(url: RwlockCommandTests.redisURL))
            let token = try #require(try await lock.inspect().writer?.token)
            #expect(try await lock.evict(token: token))
            let result = try await holder.finish()
            #expect(result.status == 70, "\(result.stderr)")
            #expect(!ProcessProbe.isRunning(worker), "the worker (COMMAND's child) outlived the lost lease")
        }
    }
}
