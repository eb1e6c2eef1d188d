import Foundation
import Testing

/// What the live suites need (a server, a cluster, the built `rwlock`,
/// `redis-server` for private servers) and whether they must have it.
///
/// `scripts/test` (and so CI) sets `RWLOCK_TESTS_REQUIRE_LIVE=1` and hands
/// over the paths it built (`RWLOCK_BINARY`). There no suite may skip: each
/// runs, and what is missing fails it with a message naming it
/// (``LiveEnvironmentTests`` says so up front). Run by hand without them,
/// `swift test` skips the suites whose server is absent; the executables are
/// this package's own products, built with the tests, so a missing one
/// always fails.
enum LiveEnvironment {
    private static let variables = ProcessInfo.processInfo.environment

    /// Every live suite must run: set by scripts/test.
    static let required = variables["RWLOCK_TESTS_REQUIRE_LIVE"] == "1"

    static let redisURL = variables["REDIS_URL"]
    static let clusterURL = variables["REDIS_CLUSTER_URL"]
    static let clusterDirectory = variables["REDIS_CLUSTER_DIR"]

    /// The `rwlock` executable: `RWLOCK_BINARY` when given, else next to the
    /// test bundle, where SwiftPM puts its products.
    static let rwlockBinary: URL? = {
        if let path = variables["RWLOCK_BINARY"] {
            return FileManager.default.isExecutableFile(atPath: path) ? URL(fileURLWithPath: path) : nil
        }
        let candidates = [Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("rwlock"),
                          URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("rwlock")]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    static let redisServer = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether a suite that needs something `available` says is there runs:
    /// always when the live suites are required.
    static func runs(_ available: Bool) -> Bool { required || available }

    static var hasServer: Bool { runs(redisURL != nil) }

    /// What is missing, named for the failure message.
    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// The `rwlock` binary, or a failure that says where it was looked for.
    static func requireRwlock() throws -> URL {
        guard let rwlockBinary else {
            throw Missing(description: "the rwlock binary was not found"
                + (variables["RWLOCK_BINARY"].map { " at RWLOCK_BINARY=\($0)" } ?? " next to the test bundle")
                + "; build it (swift build --product rwlock) or set RWLOCK_BINARY")
        }
        return rwlockBinary
    }

    /// `REDIS_URL`, or a failure that says it is not set.
    static func requireServer() throws -> String {
        guard let redisURL else { throw Missing(description: "REDIS_URL is not set: start a redis-server and export its URL") }
        return redisURL
    }
}

/// The live suites' environment, checked up front when scripts/test requires
/// it: each missing piece is one failure that names it, before the suites
/// that need it fail on it too.
@Suite(.enabled(if: LiveEnvironment.required))
struct LiveEnvironmentTests {
    @Test func everyLiveSuiteHasWhatItNeeds() async throws {
        #expect(LiveEnvironment.redisURL != nil, "REDIS_URL is not set")
        #expect(LiveEnvironment.clusterURL != nil && LiveEnvironment.clusterDirectory != nil,
                "REDIS_CLUSTER_URL and REDIS_CLUSTER_DIR are not set (scripts/redis-cluster.sh start)")
        #expect(LiveEnvironment.rwlockBinary != nil, "\((try? LiveEnvironment.requireRwlock()).map { "\($0)" } ?? "rwlock binary missing")")
        #expect(LiveEnvironment.redisServer != nil, "redis-server is not installed")
    }
}
