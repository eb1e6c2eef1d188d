import Foundation

@testable import RWLock

/// A redis-server of one test's own, on a unix socket, without persistence,
/// so killing, freezing or restarting it disturbs no other test.
final class PrivateServer: @unchecked Sendable {
    // @unchecked Sendable: `process` is only touched by the one test task
    // that owns the server (start, send, kill run in sequence); deinit runs
    // after its last use.

    static let path = LiveEnvironment.redisServer

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rwlr-\(UUID().uuidString.prefix(8))")
    /// Extra configuration, as redis-server command-line arguments.
    let arguments: [String]
    var socket: String { directory.appendingPathComponent("redis.sock").path }
    private var process: Process?
    /// When the running server was started, on this process's clock.
    private(set) var startedAt: ContinuousClock.Instant?

    init(_ arguments: [String] = []) throws {
        self.arguments = arguments
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func start() async throws {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.path!)
        server.arguments = ["--port", "0", "--unixsocket", socket, "--unixsocketperm", "700",
                            "--save", "", "--appendonly", "no", "--dir", directory.path] + arguments
        server.standardOutput = FileHandle.nullDevice
        startedAt = ContinuousClock.now
        try server.run()
        process = server
        let deadline = ContinuousClock.now + .seconds(5)
        // The socket file appears at bind(2), a moment before listen(2):
        // ready means answering PING.
        while true {
            if FileManager.default.fileExists(atPath: socket), (try? await command(["PING"])) == .status("PONG") { break }
            guard ContinuousClock.now < deadline else { throw RWLockError.connection("the private server did not start") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends `signal` (SIGSTOP, SIGCONT) to the running server.
    func send(_ signal: Int32) {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, signal)
    }

    /// SIGKILL: a child of a Swift Testing process may have SIGTERM blocked.
    func kill() {
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: socket)
        self.process = nil
    }

    /// Sends `words` to the server on a connection of the test's own.
    func command(_ words: [String]) async throws -> RESPValue {
        try await commands([words])[0]
    }

    /// Sends `batch` in one pipeline and returns the replies.
    func commands(_ batch: [[String]]) async throws -> [RESPValue] {
        if client == nil { client = try RWLockClient(endpoint: try RedisEndpoint(url: socket), configuration: .init(maxConnections: 1)) }
        return try await client!.pipeline(batch.map { $0.map { Array($0.utf8) } })
    }
    private var client: RWLockClient?

    deinit {
        client?.close()
        kill()
        try? FileManager.default.removeItem(at: directory)
    }
}
