import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R4 on a real redis-server restarted without persistence under a held
    /// lease: it has forgotten the lease, but grants nothing until it has been
    /// up for the quarantine, by when the first holder's job is dead.
    @Suite(.enabled(if: LiveEnvironment.runs(PrivateServer.path != nil)), .timeLimit(.minutes(2)))
    struct RestartQuarantineTests {
        func client(_ server: PrivateServer) throws -> RWLockClient {
            try RWLockClient(endpoint: try RedisEndpoint(url: server.socket))
        }

        @Test func aFreshServerGrantsOnlyOnceItHasBeenUpForTheQuarantine() async throws {
            let server = try PrivateServer()
            try await server.start()
            let started = try #require(server.startedAt)
            let client = try client(server)
            defer { client.close() }
            let lock = try RWLock(name: "fresh", client: client, options: .init(lease: .seconds(2)))
            #expect(try await lock.withWriteLockIfAvailable { _ in true } == nil, "IfAvailable inside the quarantine")
            let error = await #expect(throws: RWLockError.self) { _ = try await lock.acquireRead(timeout: .milliseconds(300)) }
            #expect(error?.kind == .timedOut)
            #expect(error.map(String.init(describing:))?.contains("restart quarantine") == true, "\(String(describing: error))")
            try await lock.withWriteLock(timeout: .seconds(5)) { _ in }
            let waited = ContinuousClock.now - started
            print("fresh server: first grant \(waited) after start, quarantine 2 s")
            #expect(waited >= .seconds(2))

            // Opted out (a server that fsyncs every write): at once.
            let other = try PrivateServer()
            try await other.start()
            let otherClient = try self.client(other)
            defer { otherClient.close() }
            let unquarantined = try RWLock(name: "fresh", client: otherClient, options: .init(restartQuarantine: .disabled))
            #expect(try await unquarantined.withWriteLockIfAvailable { _ in true } == true)
        }

        /// The issue's scenario with real processes: `rwlock write --lease 3s`
        /// holds; redis-server restarts with `--save ''`; a second `rwlock write`
        /// waits. With the quarantine, it is granted only after the first job is
        /// dead; without it (`--restart-quarantine 0`, the control) it is
        /// granted at once while the first job still runs.
        @Test(arguments: [true, false])
        func aRestartUnderAHeldLeaseAdmitsNoSecondWriter(quarantined: Bool) async throws {
            let server = try PrivateServer()
            try await server.start()
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (work, workerPid, terminated, bStart) = (
                files.appendingPathComponent("work").path, files.appendingPathComponent("worker.pid").path,
                files.appendingPathComponent("term").path, files.appendingPathComponent("b").path)
            let quarantine = quarantined ? [] : ["--restart-quarantine", "0"]
            let holder = try RwlockCommandTests.Run(["write", "restart", "--lease", "3s", "--url", server.socket] + quarantine
                                                    + ["--"] + slowToStopJob + [work, workerPid, terminated])
            #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: work).isEmpty }, "the job never worked")

            server.kill()
            try await server.start()
            let restarted = try #require(server.startedAt)
            let second = try RwlockCommandTests.Run(["write", "restart", "--lease", "3s", "--timeout", "30s", "--url", server.socket]
                                                    + quarantine + ["--", "sh", "-c", "date +%s%N > \"$1\"", "b", bStart])
            let secondResult = try await second.finish()
            let grantedAfter = ContinuousClock.now - restarted
            let holderResult = try await holder.finish()
            #expect(secondResult.status == 0, "\(secondResult.stderr)")
            #expect(holderResult.status == 70, "\(holderResult.stderr)")
            let lastWork = try #require(ProcessProbe.timestamps(in: work).max())
            let secondStarted = try #require(ProcessProbe.timestamps(in: bStart).first)
            let margin = (secondStarted - lastWork) / 1_000_000
            print("restart, quarantine \(quarantined ? "3 s" : "off"): second writer done \(grantedAfter) after the restart; "
                  + "first job's last work \(margin) ms before its grant")
            if quarantined {
                #expect(lastWork < secondStarted, "the first job worked after the second writer was granted")
            } else {
                // The control: without the quarantine the overlap is real, so
                // the assertion above can fail.
                #expect(lastWork > secondStarted, "no overlap without the quarantine: the scenario did not bite")
            }
        }
    }
}
