import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R2's other half: the hold belongs to COMMAND's whole process group, so
    /// signals reach all of it and the lock is held until the last member is
    /// gone, as flock(1)'s is through inherited descriptors.
    @Suite(.enabled(if: RwlockCommandTests.live), .timeLimit(.minutes(2)))
    struct ProcessGroupTests {
        typealias Run = RwlockCommandTests.Run

        func lock(_ name: String) throws -> RWLock {
            try RWLock(name: name, client: RWLockClient(url: RwlockCommandTests.redisURL))
        }

        @Test func membersThatOutliveCommandKeepTheLockHeld() async throws {
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (left, late) = (files.appendingPathComponent("left").path, files.appendingPathComponent("late").path)
            let name = "linger-\(UUID().uuidString.prefix(8))"
            // COMMAND exits at once, leaving a member that works for 3 s more,
            // renewed (1 s lease, every third of it) all along.
            let holder = try Run(["write", name, "--lease", "1s", "--", "sh", "-c",
                                  "(sleep 3; date +%s%N > \"$2\") & date +%s%N > \"$1\"", "job", left, late])
            #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: left).isEmpty })
            // Probe with --no-wait until the member is done; a probe that ended
            // before the member wrote its file tried while the member still ran.
            var refusals: [Int32] = []
            while refusals.count < 4, !FileManager.default.fileExists(atPath: late) {
                let status = try await RwlockCommandTests.Run(["write", name, "-n", "--", "true"]).finish().status
                if !FileManager.default.fileExists(atPath: late) { refusals.append(status) }
            }
            let result = try await holder.finish()
            let releasedAt = Int64(Date().timeIntervalSince1970 * 1e9)
            #expect(refusals.count >= 2, "too few probes ran while the member worked; the test proves nothing")
            #expect(refusals.allSatisfy { $0 == 75 }, "a writer got in while COMMAND's group still ran: \(refusals)")
            #expect(result.status == 0, "\(result.stderr)")
            let finished = try #require(ProcessProbe.timestamps(in: late).first, "rwlock returned before the member finished")
            #expect(finished <= releasedAt)
            #expect(try await lock(name).inspect().writer == nil)
        }

        @Test func forwardedSignalsReachTheWholeGroup() async throws {
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let pidFile = files.appendingPathComponent("child").path
            let name = "forward-\(UUID().uuidString.prefix(8))"
            // The shell waits on a child that would ignore nothing: a SIGTERM to
            // the shell's pid alone would leave `sleep` running.
            let holder = try Run(["write", name, "--", "sh", "-c", "sleep 60 & echo $! > \"$1\"; wait", "job", pidFile])
            #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: pidFile) != nil })
            let child = try #require(ProcessProbe.pid(in: pidFile))
            kill(holder.process.processIdentifier, SIGTERM)
            let result = try await holder.finish()
            #expect(result.status == 128 + SIGTERM)
            #expect(!ProcessProbe.isRunning(child), "COMMAND's child survived the forwarded SIGTERM")
        }

        @Test func aGraceThatCannotFitIsAUsageError() async throws {
            let result = try await RwlockCommandTests.Run(["write", "grace", "--lease", "1s", "--kill-grace", "600ms", "--", "true"]).finish()
            #expect(result.status == 64)
            #expect(result.stderr.contains("--kill-grace"))
            let fits = try await RwlockCommandTests.Run(["write", "grace-\(UUID().uuidString.prefix(8))", "--lease", "1s",
                                                        "--kill-grace", "0", "--", "true"]).finish()
            #expect(fits.status == 0, "\(fits.stderr)")
        }
    }
}
