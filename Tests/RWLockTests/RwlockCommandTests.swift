import Foundation
import Testing

import RWLock

/// The `rwlock` executable's promises: exit codes, the environment COMMAND
/// gets, mutual exclusion across processes, the operator commands. Runs the
/// binary SwiftPM built next to this test bundle, against REDIS_URL.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RwlockCommandTests {
    static let binary = LiveEnvironment.rwlockBinary
    static let redisURL = LiveEnvironment.redisURL
    /// Needs a server; never skipped under scripts/test. The binary is a
    /// product of this package, built with the tests: when it is missing
    /// the tests fail, whatever the environment, rather than skip.
    static let live = LiveEnvironment.hasServer

    // The documented exit codes.
    static let usage: Int32 = 64, noConnection: Int32 = 69, timedOut: Int32 = 75

    func uniqueName(_ test: String = #function) -> String {
        "cli-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))"
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// A started `rwlock`; its output goes to files, not pipes, so that a
    /// child filling one pipe cannot deadlock it.
    ///
    /// `@unchecked Sendable`: `Process` is not Sendable, but a `Run` is made
    /// and read by one test task only; the termination handler, which runs on
    /// another thread, touches nothing but the semaphore (itself thread-safe),
    /// and `finish()` reads the process only after that semaphore fired.
    final class Run: @unchecked Sendable {
        let process = Process()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-cli-\(UUID().uuidString)")
        private let exited = DispatchSemaphore(value: 0)

        /// Starts rwlock with `arguments` (and `extra` in its environment);
        /// with `alone`, through bash closing
        /// every descriptor above 2 first, so that rwlock holds only what it
        /// opens itself (Foundation's Process passes this process's own
        /// descriptors on).
        init(_ arguments: [String], alone: Bool = false, environment extra: [String: String] = [:]) throws {
            if !extra.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(extra) { $1 } }
            let binary = try LiveEnvironment.requireRwlock()
            if alone {
                process.executableURL = URL(fileURLWithPath: "/bin/bash")
                process.arguments = ["-c", """
                    for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-" 2>/dev/null; done
                    exec "$0" "$@"
                    """, binary.path] + arguments
            } else {
                process.executableURL = binary
                process.arguments = arguments
            }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for name in ["out", "err"] { FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: nil) }
            process.standardOutput = try FileHandle(forWritingTo: directory.appendingPathComponent("out"))
            process.standardError = try FileHandle(forWritingTo: directory.appendingPathComponent("err"))
            process.standardInput = FileHandle.nullDevice
            let exited = exited
            process.terminationHandler = { _ in exited.signal() }
            try process.run()
        }

        /// A test that failed early must not leave rwlock (stopped, or
        /// holding a lock with an endless job) behind: killed, its keeper
        /// stops the job.
        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kill(process.processIdentifier, SIGCONT)
            }
        }

        /// Waits for the exit off the cooperative pool.
        func finish() async throws -> Result {
            let exited = exited
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    exited.wait()
                    continuation.resume()
                }
            }
            defer { try? FileManager.default.removeItem(at: directory) }
            return Result(status: process.terminationStatus,
                          stdout: String(decoding: try Data(contentsOf: directory.appendingPathComponent("out")), as: UTF8.self),
                          stderr: String(decoding: try Data(contentsOf: directory.appendingPathComponent("err")), as: UTF8.self))
        }
    }

    func run(_ arguments: [String]) async throws -> Result {
        try await Run(arguments).finish()
    }

    func lock(_ name: String) throws -> RWLock {
        try RWLock(name: name, client: RWLockClient(url: Self.redisURL), options: .init(lease: .seconds(5)))
    }

    @Test(.enabled(if: live)) func exitStatusIsCommands() async throws {
        let result = try await run(["write", uniqueName(), "--", "sh", "-c", "exit 7"])
        #expect(result.status == 7)
        #expect(try await run(["read", uniqueName(), "--", "true"]).status == 0)
    }

    @Test(.enabled(if: live)) func fenceIsSetAndIncreases() async throws {
        let name = uniqueName()
        let script = "echo \"$RWLOCK_FENCE $RWLOCK_TOKEN\""
        let first = try await run(["write", name, "--lease", "2s", "--", "sh", "-c", script])
        let second = try await run(["write", name, "--", "sh", "-c", script])
        #expect(first.status == 0 && second.status == 0)
        let a = first.stdout.split(separator: " "), b = second.stdout.split(separator: " ")
        let fence1 = try #require(UInt64(a.first ?? "")), fence2 = try #require(UInt64(b.first ?? ""))
        #expect(fence2 > fence1)
        #expect(a.count == 2 && b.count == 2 && a[1] != b[1])
        let reader = try await run(["read", name, "--", "sh", "-c", "echo \"${RWLOCK_FENCE-unset}\""])
        #expect(reader.stdout == "unset\n")
    }

    @Test(arguments: ["0s", "-1s", "abc", "5", "2x", "ms"])
    func badDurationsAreUsageErrors(duration: String) async throws {
        // `--timeout 0` is valid: it tries once, as --no-wait.
        for option in ["--lease=\(duration)"] + (duration == "0s" ? [] : ["--timeout=\(duration)"]) {
            let result = try await run(["write", "cli-bad", option, "--url", "redis://127.0.0.1:1", "--", "true"])
            #expect(result.status == Self.usage, "\(option)")
            #expect(result.stderr.contains(duration), "\(option): \(result.stderr)")
        }
    }

    @Test func parseErrorsAreUsageErrors() async throws {
        #expect(try await run(["--no-such-flag"]).status == Self.usage)
        #expect(try await run(["write", "cli-bad", "--url", "redis://127.0.0.1:1"]).status == Self.usage)
        #expect(try await run(["write", "cli bad", "--url", "redis://127.0.0.1:1", "--", "true"]).status == Self.usage)
    }

    @Test func helpDocumentsTheExitCodes() async throws {
        let result = try await run(["--help"])
        #expect(result.status == 0)
        for code in ["64", "69", "70", "75", "76", "126"] { #expect(result.stdout.contains("\n  \(code) "), "\(code)") }
    }

    @Test func noServerIsNoConnection() async throws {
        let result = try await run(["write", uniqueName(), "--url", "redis://127.0.0.1:1", "--", "true"])
        #expect(result.status == Self.noConnection)
        #expect(result.stderr.contains("connect"))
        let inspect = try await run(["inspect", uniqueName(), "--url", "redis://127.0.0.1:1"])
        #expect(inspect.status == Self.noConnection)
    }

    @Test(.enabled(if: live)) func heldLockTimesOut() async throws {
        let name = uniqueName()
        let lease = try await lock(name).acquireWrite()
        let started = ContinuousClock.now
        let result = try await run(["write", name, "--timeout", "300ms", "--", "true"])
        #expect(result.status == Self.timedOut)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        try await lease.release()
    }

    @Test(.enabled(if: live)) func concurrentWritersDoNotOverlap() async throws {
        let name = uniqueName()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-log-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let script = "echo enter $$ >> \"$0\"; sleep 0.05; echo leave $$ >> \"$0\""
        let runs = try (0..<5).map { _ in try Run(["write", name, "--lease", "2s", "--", "sh", "-c", script, log.path]) }
        for run in runs { #expect(try await run.finish().status == 0) }
        let lines = String(decoding: try Data(contentsOf: log), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 10)
        for pair in stride(from: 0, to: lines.count - 1, by: 2) {
            let enter = lines[pair].split(separator: " "), leave = lines[pair + 1].split(separator: " ")
            #expect(enter.first == "enter" && leave.first == "leave" && enter.last == leave.last, "\(lines)")
        }
    }

    @Test(.enabled(if: live)) func inspectJSONShowsTheHolder() async throws {
        let name = uniqueName()
        let lease = try await lock(name).acquireWrite()
        let result = try await run(["inspect", name, "--json"])
        try await lease.release()
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let writer = try #require(object["writer"] as? [String: Any])
        #expect(writer["token"] as? String == lease.token)
        #expect((writer["fence"] as? NSNumber)?.uint64Value == lease.fence?.value)
        #expect(((writer["lease_ms_left"] as? NSNumber)?.intValue ?? 0) > 0)
        #expect((object["readers"] as? [Any])?.isEmpty == true)
        #expect((object["waiting"] as? [Any])?.isEmpty == true)
        #expect((object["last_fence"] as? NSNumber)?.uint64Value == lease.fence?.value)
        let table = try await run(["inspect", name])
        #expect(table.status == 0 && table.stdout.contains("free"))
    }

    @Test(.enabled(if: live)) func evictFreesAHeldLease() async throws {
        let name = uniqueName()
        let lease = try await lock(name).acquireWrite()
        let evicted = try await run(["evict", name, lease.token])
        #expect(evicted.status == 0)
        #expect(try await run(["write", name, "--timeout", "2s", "--", "true"]).status == 0)
        #expect(try await run(["evict", name, lease.token]).status == 1)
        await #expect(throws: RWLockError.self) { try await lease.renew() }
    }

    @Test(.enabled(if: live)) func resetFreesTheLockAndKeepsTheFence() async throws {
        let name = uniqueName()
        let lock = try lock(name)
        let lease = try await lock.acquireWrite()
        #expect(try await run(["reset", name]).status == 0)
        let snapshot = try await lock.inspect()
        #expect(snapshot.writer == nil)
        #expect(snapshot.lastFence == lease.fence)
        #expect(try await run(["write", name, "--timeout", "2s", "--", "true"]).status == 0)
    }

    /// Waits until someone holds `name` for writing; returns the token.
    func writer(of lock: RWLock) async throws -> String? {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let writer = try await lock.inspect().writer { return writer.token }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test(.enabled(if: live)) func lostLeaseStopsTheCommand() async throws {
        let name = uniqueName()
        let run = try Run(["write", name, "--lease", "300ms", "--", "sh", "-c", "exec sleep 30"])
        let lock = try lock(name)
        let token = try #require(try await writer(of: lock))
        let started = ContinuousClock.now
        #expect(try await lock.evict(token: token))
        let result = try await run.finish()
        #expect(result.status == 70)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(result.stderr.contains("lease was lost"))
    }

    @Test(.enabled(if: live)) func signalsAreForwardedToTheCommand() async throws {
        let name = uniqueName()
        // sh says when its trap is installed; the test waits for that, not a guess.
        let ready = FileManager.default.temporaryDirectory.appendingPathComponent("trap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: ready) }
        let run = try Run(["write", name, "--", "sh", "-c",
                           "trap 'exit 4' TERM; : > '\(ready)'; while true; do sleep 0.05; done"])
        let lock = try lock(name)
        _ = try #require(try await writer(of: lock))
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: ready) {
            try #require(ContinuousClock.now < deadline, "COMMAND never installed its trap")
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(run.process.processIdentifier, SIGTERM)
        #expect(try await run.finish().status == 4)
        #expect(try await lock.inspect().writer == nil)
    }

    /// The fault model's paused holder (DocC "The Contract"): `rwlock` is SIGSTOPped while COMMAND runs
    /// (as a GC pause or a suspended VM would), its lease runs out on the
    /// server, another writer gets in; resumed, it finds its lease lost, stops
    /// COMMAND and says so (exit 70), instead of carrying on.
    @Test(.enabled(if: live)) func aHolderStoppedPastItsLeaseLearnsItLostTheLease() async throws {
        let name = uniqueName()
        // COMMAND says when it runs. Stopping rwlock as soon as the writer key
        // shows could stop it before it reads its grant's reply; resumed, it
        // would rightly hand that late grant back and wait its turn again.
        let started = FileManager.default.temporaryDirectory.appendingPathComponent("started-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: started) }
        let holder = try Run(["write", name, "--lease", "300ms", "--", "sh", "-c", ": > '\(started)'; exec sleep 30"])
        let lock = try lock(name)
        let token = try #require(try await writer(of: lock))
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: started) {
            try #require(ContinuousClock.now < deadline, "COMMAND never started")
            try await Task.sleep(for: .milliseconds(10))
        }
        kill(holder.process.processIdentifier, SIGSTOP)
        // Waiting for the stopped holder's lease to run out is the scenario.
        let fence = try await lock.withWriteLock(timeout: .seconds(10)) { fence in fence }
        #expect(fence.value > 0)
        kill(holder.process.processIdentifier, SIGCONT)
        let result = try await holder.finish()
        #expect(result.status == 70, "the resumed holder must report the lost lease: \(result.stderr)")
        #expect(result.stderr.contains("lease was lost"))
        #expect(try await lock.evict(token: token) == false, "the stopped holder's token holds nothing any more")
    }
}

extension RwlockCommandTests {
    /// COMMAND gets no descriptor rwlock opened: not its Redis connections
    /// (a job that outlives rwlock must not keep them open), not the
    /// keeper's pipes (the keeper must see EOF when rwlock dies). rwlock is
    /// started holding nothing but stdin, stdout and stderr, so every socket
    /// and pipe it has is its own.
    @Test(.enabled(if: live)) func commandInheritsNoConnectionOrPipeOfRwlocks() async throws {
        // COMMAND execs ls, so /proc/self/fd is COMMAND's own table: a shell
        // pipeline would show the shell's own pipe ends while it forks.
        let result = try await Run(["write", uniqueName(), "--", "sh", "-c", "exec ls -l /proc/self/fd /proc/$PPID/fd"],
                                   alone: true).finish()
        #expect(result.status == 0, "\(result.stderr)")
        // "/proc/self/fd:" starts COMMAND's listing, "/proc/1234/fd:" rwlock's;
        // then lines like "lrwx------ 1 root root 64 Dec  7 20:26 13 -> socket:[38683]".
        var side = ""
        let entries = result.stdout.split(separator: "\n").compactMap { line -> [String]? in
            if line.hasSuffix(":") {
                side = line == "/proc/self/fd:" ? "own" : "rwlock"
                return nil
            }
            let halves = line.components(separatedBy: " -> ")
            guard halves.count == 2, !side.isEmpty,
                let descriptor = halves[0].split(separator: " ").last.flatMap({ Int($0) }) else { return nil }
            return [side, String(descriptor), halves[1]]
        }.filter { Int($0[1])! > 2 && ($0[2].hasPrefix("socket:") || $0[2].hasPrefix("pipe:")) }
        #expect(entries.contains { $0[0] == "rwlock" && $0[2].hasPrefix("socket:") },
                "rwlock's connection was not seen: the test proves nothing")
        let inherited = entries.filter { $0[0] == "own" }
        #expect(inherited.isEmpty, "COMMAND inherited rwlock's \(inherited)")
    }
}
