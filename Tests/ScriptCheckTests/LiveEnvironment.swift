import Foundation
import Testing

/// What the checker's live and command-line suites need (a server to
/// compare the mock with, the built `script-check`) and whether they must
/// have it: `scripts/test` sets `RWLOCK_TESTS_REQUIRE_LIVE=1` and
/// `SCRIPT_CHECK_BINARY`, and then nothing may skip or quietly compare less.
enum LiveEnvironment {
    private static let variables = ProcessInfo.processInfo.environment

    static let required = variables["RWLOCK_TESTS_REQUIRE_LIVE"] == "1"
    static let redisURL = variables["REDIS_URL"]

    /// The `script-check` executable: `SCRIPT_CHECK_BINARY` when given, else
    /// next to the test bundle or in the package's .build/debug.
    static let scriptCheckBinary: URL? = {
        if let path = variables["SCRIPT_CHECK_BINARY"] {
            return FileManager.default.isExecutableFile(atPath: path) ? URL(fileURLWithPath: path) : nil
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [
            Bundle.main.bundleURL.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            packageRoot.appendingPathComponent(".build/debug"),
        ].map { $0.appendingPathComponent("script-check") }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Whether a suite needing what `available` says is there runs: always
    /// when required (it then fails on what is missing).
    static func runs(_ available: Bool) -> Bool { required || available }
    static var hasServer: Bool { runs(redisURL != nil) }

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    static func requireScriptCheck() throws -> URL {
        guard let scriptCheckBinary else {
            throw Missing(description: "the script-check binary was not found"
                + (variables["SCRIPT_CHECK_BINARY"].map { " at SCRIPT_CHECK_BINARY=\($0)" } ?? "")
                + "; build it (swift build --product script-check) or set SCRIPT_CHECK_BINARY")
        }
        return scriptCheckBinary
    }
}
