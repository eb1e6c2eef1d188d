import Foundation
import Testing

/// The `script-check` executable's promises: exit codes, output formats.
/// Runs the binary SwiftPM built next to this test bundle.
@Suite(.timeLimit(.minutes(2))) struct CommandLineTests {
    /// A product of this package, built with the tests: missing, the tests
    /// fail rather than skip.
    static let binary = LiveEnvironment.scriptCheckBinary

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func run(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        // waitUntilExit blocks: keep it off the cooperative pool.
        try await offThePool { try Self.runBlocking(arguments) }
    }

    static func runBlocking(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        let binary = try LiveEnvironment.requireScriptCheck()
        process.executableURL = binary
        process.arguments = arguments
        // Files, not pipes: a child filling one pipe while we drain the other
        // would deadlock.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outURL = directory.appendingPathComponent("out"), errURL = directory.appendingPathComponent("err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return (process.terminationStatus,
                String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }

    /// The release both executables print is CHANGELOG.md's top entry.
    static func changelogVersion() throws -> String {
        let changelog = try String(contentsOf: packageRoot.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        let entry = try #require(changelog.split(separator: "\n").first { $0.hasPrefix("## [") && !$0.hasPrefix("## [Unreleased]") })
        return String(entry.dropFirst(4).prefix { $0 != "]" })
    }

    @Test func versionIsTheChangelogsTopEntry() async throws {
        let version = try Self.changelogVersion()
        #expect(version.split(separator: ".").count == 3, "CHANGELOG's top entry \(version) is not a semantic version")
        let scriptCheck = try await run(["--version"])
        #expect(scriptCheck.status == 0)
        #expect(scriptCheck.stdout == version + "\n", "script-check --version printed \(scriptCheck.stdout.debugDescription)")
        let rwlock = Process()
        rwlock.executableURL = try LiveEnvironment.requireScriptCheck().deletingLastPathComponent().appendingPathComponent("rwlock")
        rwlock.arguments = ["--version"]
        let out = Pipe()
        rwlock.standardOutput = out
        try rwlock.run()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        rwlock.waitUntilExit()
        #expect(rwlock.terminationStatus == 0)
        #expect(printed == version + "\n", "rwlock --version printed \(printed.debugDescription)")
    }

    /// A full script directory for a known-bad fixture: lua/ with the
    /// fixture's scripts laid over it.
    func fixtureDirectory(_ name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fixture-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for source in [Self.packageRoot.appendingPathComponent("lua"),
                       Self.packageRoot.appendingPathComponent("Tests/ScriptCheckTests/KnownBad/\(name)")] {
            for file in try FileManager.default.contentsOfDirectory(atPath: source.path) where file.hasSuffix(".lua") {
                let target = directory.appendingPathComponent(file)
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: target)
            }
        }
        return directory.path
    }

    @Test func missingDirectoryIsASetupError() async throws {
        let result = try await run(["--lua-dir", "/nonexistent/lua"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no such Lua directory"))
    }

    @Test func unknownOptionIsAUsageError() async throws {
        let result = try await run(["--no-such-flag"])
        #expect(result.status == 2)
    }

    @Test func badDesignExitsOneWithInvariantAndTimeline() async throws {
        let fixture = try fixtureDirectory("write-ignores-readers")
        defer { try? FileManager.default.removeItem(atPath: fixture) }
        let result = try await run(["--lua-dir", fixture, "--seed", "5", "--runs", "10", "--depth", "4"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("S2 (readers exclude writers)"))
        #expect(result.stdout.contains("acquire_write("))
        #expect(result.stdout.contains("--seed 5"))
    }

    @Test func jsonReportIsOneObject() async throws {
        let fixture = try fixtureDirectory("read-ignores-intent")
        defer { try? FileManager.default.removeItem(atPath: fixture) }
        let result = try await run(["--lua-dir", fixture, "--seed", "9", "--runs", "10", "--depth", "4", "--json"])
        #expect(result.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let violation = object?["violation"] as? [String: Any]
        #expect(violation?["invariant"] as? String == "S3")
        #expect(object?["ok"] as? Bool == false)
    }

    @Test func goodScriptsPassASmallRun() async throws {
        let result = try await run(["--lua-dir", Self.packageRoot.appendingPathComponent("lua").path,
                              "--seed", "3", "--runs", "20", "--depth", "4"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("distinct states"))
        #expect(result.stdout.contains("peak memory"))
    }

    @Test func evalPrintsLikeRedisCli() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).lua")
        try Data("return {KEYS[1], ARGV[1], 3.7, {err='no'}}".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await run(["eval", file.path, "k1", ",", "a1"])
        #expect(result.status == 0)
        #expect(result.stdout == "1) \"k1\"\n2) \"a1\"\n3) (integer) 3\n4) (error) no\n")
    }
}
