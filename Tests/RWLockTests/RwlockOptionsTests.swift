import Foundation
import Testing

@testable import RWLock

/// The flock(1)-style options of `rwlock read|write`: -n/--no-wait,
/// -E/--conflict-exit-code, --timeout 0, --prefer-readers and --cap.
///
/// Serialized, and run apart from the latency-bound tests (scripts/test's
/// third run): each test starts several `rwlock` processes, and
/// Foundation's `Process.run()` blocks the calling thread of Swift's
/// two-thread cooperative pool while it spawns.
@Suite(.serialized, .enabled(if: RwlockCommandTests.live), .timeLimit(.minutes(1)))
struct RwlockOptionsTests {
    typealias Run = RwlockCommandTests.Run

    func lock(_ name: String) throws -> RWLock {
        try RWLock(name: name, client: RWLockClient(url: RwlockCommandTests.redisURL), options: .init(lease: .seconds(5)))
    }

    func name(_ test: String = #function) -> String { "opt-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    @Test func noWaitGivesUpAtOnceWithoutRunningCommand() async throws {
        let name = name()
        let holder = try await lock(name).acquireWrite()
        let files = try ProcessProbe.directory()
        defer { try? FileManager.default.removeItem(at: files) }
        let ran = files.appendingPathComponent("ran").path
        let command = ["--", "sh", "-c", ": > \"$1\"", "job", ran]
        for (options, status) in [(["-n"], Int32(75)), (["--no-wait"], 75), (["-n", "-E", "3"], 3),
                                  (["--no-wait", "--conflict-exit-code", "0"], 0), (["--timeout", "0"], 75),
                                  (["--timeout", "200ms", "-E", "9"], 9)] {
            let started = ContinuousClock.now
            let result = try await Run(["write", name] + options + command).finish()
            #expect(result.status == status, "\(options): \(result.stderr)")
            #expect(ContinuousClock.now - started < .seconds(1), "\(options) waited")
        }
        #expect(!FileManager.default.fileExists(atPath: ran), "COMMAND ran without the lock")
        try await holder.release()
        #expect(try await Run(["write", name, "-n"] + command).finish().status == 0)
        #expect(FileManager.default.fileExists(atPath: ran))
    }

    @Test func aRefusedNoWaitWriterLeavesNoIntent() async throws {
        let name = name()
        let lock = try lock(name)
        let reader = try await lock.acquireRead()
        #expect(try await Run(["write", name, "-n", "--", "true"]).finish().status == 75)
        #expect(try await lock.inspect().waiting.isEmpty, "the refused writer's intent was left behind")
        #expect(try await Run(["read", name, "-n", "--", "true"]).finish().status == 0, "a reader was held up")
        try await reader.release()
    }

    @Test func preferReadersGetsPastAWaitingWriter() async throws {
        let name = name()
        let lock = try lock(name)
        let reader = try await lock.acquireRead()
        let writer = Task.detached { try await lock.withWriteLock(timeout: .seconds(20)) { _ in } }
        defer { writer.cancel() }
        #expect(await ProcessProbe.eventually { (try? await lock.inspect().waiting.count) == 1 })
        #expect(try await Run(["read", name, "-n", "--", "true"]).finish().status == 75, "writer preference")
        #expect(try await Run(["read", name, "-n", "--prefer-readers", "--", "true"]).finish().status == 0)
        try await reader.release()
        try await writer.value
    }

    @Test func theCapEndsTheWholeHold() async throws {
        let name = name()
        let started = ContinuousClock.now
        let result = try await Run(["write", name, "--lease", "300ms", "--cap", "600ms", "--", "sh", "-c", "sleep 30"]).finish()
        #expect(result.status == 70, "\(result.stderr)")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(try await Run(["write", name, "--cap", "50ms", "--", "true"]).finish().status == 64)
    }

    @Test func helpNamesTheNewOptionsAndExitCodes() async throws {
        let write = try await Run(["write", "--help"]).finish()
        for option in ["--no-wait", "--conflict-exit-code", "--kill-grace", "--cap", "--allow-eviction", "--restart-quarantine"] {
            #expect(write.stdout.contains(option), "\(option)")
        }
        #expect(try await Run(["read", "--help"]).finish().stdout.contains("--prefer-readers"))
        #expect(try await Run(["--help"]).finish().stdout.contains("\n  78 "))
    }
}
