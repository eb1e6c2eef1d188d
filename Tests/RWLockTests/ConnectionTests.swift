import Foundation
import Testing

@testable import RWLock

// MARK: - URL parsing (no server needed)

@Suite("RedisEndpoint URL parsing")
struct EndpointParsingTests {
    @Test(
        "accepted forms",
        arguments: [
            ("redis://127.0.0.1:6379", RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6379))),
            ("redis://localhost", RedisEndpoint(address: .tcp(host: "localhost", port: 6379))),
            ("REDIS://Cache.Example:7000/", RedisEndpoint(address: .tcp(host: "Cache.Example", port: 7000))),
            ("redis://:secret@host:7000/2",
             RedisEndpoint(address: .tcp(host: "host", port: 7000), password: "secret", database: 2)),
            ("redis://:secret@host", RedisEndpoint(address: .tcp(host: "host", port: 6379), password: "secret")),
            ("redis://alice:p%40ss%3Aw%2Frd%25@host/15",
             RedisEndpoint(address: .tcp(host: "host", port: 6379), username: "alice", password: "p@ss:w/rd%", database: 15)),
            ("redis://:p@ss@host", RedisEndpoint(address: .tcp(host: "host", port: 6379), password: "p@ss")),
            ("redis://[::1]:6380/1", RedisEndpoint(address: .tcp(host: "::1", port: 6380), database: 1)),
            ("redis://[::1]", RedisEndpoint(address: .tcp(host: "::1", port: 6379))),
            ("unix:///tmp/redis.sock", RedisEndpoint(address: .unixSocket(path: "/tmp/redis.sock"))),
            ("unix:///tmp/redis.sock?db=3", RedisEndpoint(address: .unixSocket(path: "/tmp/redis.sock"), database: 3)),
            ("unix://:pw@/tmp/r.sock", RedisEndpoint(address: .unixSocket(path: "/tmp/r.sock"), password: "pw")),
            ("unix://bob:pw@/tmp/r.sock?db=1",
             RedisEndpoint(address: .unixSocket(path: "/tmp/r.sock"), username: "bob", password: "pw", database: 1)),
            ("unix:///tmp/my%20dir/r.sock", RedisEndpoint(address: .unixSocket(path: "/tmp/my dir/r.sock"))),
            ("/var/run/redis/redis.sock", RedisEndpoint(address: .unixSocket(path: "/var/run/redis/redis.sock"))),
            ("rediss://cache.example:6380", RedisEndpoint(address: .tcp(host: "cache.example", port: 6380), tls: TLSConfiguration())),
            ("REDISS://u:p@10.0.0.1/2",
             RedisEndpoint(address: .tcp(host: "10.0.0.1", port: 6379), username: "u", password: "p", database: 2, tls: TLSConfiguration())),
        ])
    func accepted(url: String, expected: RedisEndpoint) throws {
        #expect(try RedisEndpoint(url: url) == expected)
    }

    @Test(
        "rejected forms say what is wrong",
        arguments: [
            ("", "empty"),
            ("localhost:6379", "no scheme"),
            ("http://host", "unsupported scheme"),
            ("rediss://host?db=1", "query"),
            ("rediss+cluster://host:7000", "Redis Cluster"),
            ("redis://host:0", "port"),
            ("redis://host:65536", "port"),
            ("redis://host:abc", "port"),
            ("redis://host:", "port"),
            ("redis://", "host is missing"),
            ("redis://:pw@", "host is missing"),
            ("redis://::1", "brackets"),
            ("redis://[::1", "closing"),
            ("redis://[::1]x", "after the IPv6"),
            ("redis://host/abc", "database"),
            ("redis://host/-1", "database"),
            ("redis://host?db=1", "query"),
            ("redis://host#frag", "fragment"),
            ("redis://alice@host", "no password"),
            ("redis://:p%zz@host", "two hex digits"),
            ("redis://:%ff@host", "UTF-8"),
            ("redis://host name", "whitespace"),
            ("unix://", "socket path"),
            ("unix://relative/path", "no host"),
            ("unix:///s.sock?timeout=1", "unknown query parameter"),
            ("unix:///s.sock?db=x", "database"),
        ])
    func rejected(url: String, mentions: String) {
        let error = #expect(throws: RWLockError.self) { try RedisEndpoint(url: url) }
        #expect(error?.kind == .invalidConfiguration)
        let message = error?.description ?? ""
        #expect(message.contains(mentions), "\(message)")
        #expect(message.contains("expected redis://"), "\(message)")
    }

    /// A TLS cluster URL: every seed speaks TLS, and so does every node the
    /// client learns of; descriptions keep the scheme.
    @Test func tlsClusterURLsMarkEverySeed() throws {
        guard case .cluster(let seeds) = try RedisDeployment(url: "rediss+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001").kind else {
            Issue.record("not parsed as a cluster")
            return
        }
        #expect(seeds.count == 2 && seeds.allSatisfy { $0.tls == TLSConfiguration() })
        #expect(try RedisDeployment(url: "rediss+cluster://:pw@10.0.0.1:7000").description == "rediss+cluster://:***@10.0.0.1:7000")
        #expect(try RedisEndpoint(url: "rediss://:pw@host:6380").description == "rediss://:***@host:6380")
    }

    @Test func errorsAndDescriptionsNeverShowThePassword() throws {
        let error = #expect(throws: RWLockError.self) { try RedisEndpoint(url: "redis://bob:topsecret@host:99999") }
        #expect(error?.description.contains("topsecret") == false)
        #expect(error?.description.contains("***@host:99999") == true)

        let endpoint = try RedisEndpoint(url: "redis://bob%20b:topsecret@[::1]:7000/3")
        #expect(endpoint.description == "redis://bob%20b:***@[::1]:7000/3")
        let unix = try RedisEndpoint(url: "unix://:pw@/tmp/r.sock?db=2")
        #expect(unix.description == "unix://:***@/tmp/r.sock?db=2")
        // The description parses back to the same place (minus the password).
        var withoutPassword = try RedisEndpoint(url: endpoint.description.replacingOccurrences(of: "***", with: "x"))
        withoutPassword.password = "topsecret"
        #expect(withoutPassword == endpoint)
    }

    @Test func environmentFallsBackToLocalhost() throws {
        #expect(try RedisEndpoint.fromEnvironment(nil) == RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6379)))
        #expect(try RedisEndpoint.fromEnvironment("") == RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6379)))
        #expect(try RedisEndpoint.fromEnvironment("redis://h:1/2") == RedisEndpoint(address: .tcp(host: "h", port: 1), database: 2))
        let error = #expect(throws: RWLockError.self) { try RedisEndpoint.fromEnvironment("redis//oops") }
        #expect(error?.description.contains("REDIS_URL") == true)
    }

    @Test func errorKindsCompare() {
        #expect(RWLockError.connection("x").kind == .connection)
        #expect(RWLockError.server("ERR x").kind == .server)
        #expect(RWLockError.server("ERR x").serverMessage == "ERR x")
        #expect(RWLockError.connection("x").serverMessage == nil)
        #expect(RWLockError.protocolError.kind == .protocolError)
        #expect(RWLockError.shutdown.kind != .connection)
        #expect(RWLockError.server("WRONGTYPE boom").description.contains("\"WRONGTYPE boom\""))
    }
}

// MARK: - Live tests against REDIS_URL

private let liveRedis = LiveEnvironment.hasServer

/// Ignore SIGPIPE for connections the tests drive directly (RWLockClient's
/// worker threads block it themselves).
private let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func command(_ words: String...) -> [[UInt8]] { words.map(bytes) }
private func errorText(_ reply: RESPValue) -> String? {
    if case .error(let text) = reply { return text }
    return nil
}
private func uniquePrefix() -> String { "rwlt:\(UUID().uuidString.prefix(8)):" }

private func directConnection(_ endpoint: RedisEndpoint? = nil) throws -> HiredisConnection {
    _ = ignoreSIGPIPE
    return try HiredisConnection(endpoint: endpoint ?? RedisEndpoint.fromEnvironment())
}

@Suite("Live Redis connection", .enabled(if: liveRedis))
struct LiveConnectionTests {
    @Test func binarySafeRoundTrip() throws {
        let connection = try directConnection()
        let key = bytes(uniquePrefix()) + [0, 0xFF, 0x0A]
        let value: [UInt8] = [0, 0xFF, 0x0D, 0x0A, 0] + (0...255).map { UInt8($0) }
        #expect(try connection.command([bytes("SET"), key, value]) == .status("OK"))
        #expect(try connection.command([bytes("GET"), key]) == .bulk(value))
        #expect(try connection.command([bytes("SET"), key, []]) == .status("OK"))
        #expect(try connection.command([bytes("GET"), key]) == .bulk([]))
        #expect(try connection.command([bytes("DEL"), key]) == .integer(1))
        #expect(try connection.command([bytes("GET"), key]) == .null)
    }

    @Test func errorRepliesAreValues() throws {
        let connection = try directConnection()
        let key = uniquePrefix() + "list"
        defer { _ = try? connection.command(command("DEL", key)) }
        #expect(try connection.command(command("LPUSH", key, "a")) == .integer(1))
        let reply = try connection.command(command("GET", key))
        guard case .error(let message) = reply else {
            Issue.record("expected an error reply, got \(reply)")
            return
        }
        #expect(message.hasPrefix("WRONGTYPE"))
        let error = #expect(throws: RWLockError.self) { try reply.throwingServerError() }
        #expect(error?.kind == .server)
        #expect(error?.serverMessage == message)
        // The connection is still usable after an error reply.
        #expect(try connection.command(command("PING")) == .status("PONG"))
        #expect(!connection.isBroken)
    }

    @Test func nestedArraysFromEval() throws {
        let connection = try directConnection()
        let script = "return {1, 'a\\0b', {2, {'x', {}}}, false, {err='E bad'}, {ok='FINE'}, -7}"
        let reply = try connection.command(command("EVAL", script, "0"))
        #expect(
            reply
                == .array([
                    .integer(1), .bulk([0x61, 0, 0x62]), .array([.integer(2), .array([.bulk("x"), .array([])])]),
                    .null, .error("E bad"), .status("FINE"), .integer(-7),
                ]))
        // hiredis 0.14 reports the nil array (*-1) as nil too.
        #expect(try connection.command(command("BLPOP", uniquePrefix() + "none", "0.01")) == .null)
    }

    @Test func pipelineKeepsOrderAndErrors() async throws {
        let prefix = uniquePrefix()
        let connection = try directConnection()
        let replies = try connection.pipeline([
            command("SET", prefix + "n", "41"), command("INCR", prefix + "n"),
            command("HGET", prefix + "n", "f"), command("GET", prefix + "n"), command("DEL", prefix + "n"),
        ])
        #expect(replies.count == 5)
        #expect(replies[0] == .status("OK"))
        #expect(replies[1] == .integer(42))
        #expect(errorText(replies[2])?.hasPrefix("WRONGTYPE") == true)
        #expect(replies[3] == .bulk("42"))
        #expect(replies[4] == .integer(1))

        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 2))
        defer { client.close() }
        let viaClient = try await client.pipeline([command("INCR", prefix + "c"), command("INCR", prefix + "c"), command("DEL", prefix + "c")])
        #expect(viaClient == [.integer(1), .integer(2), .integer(1)])
        #expect(try await client.pipeline([]) == [])
    }

    @Test func aclUserAndPasswordAuth() throws {
        let admin = try directConnection()
        let prefix = uniquePrefix()
        let user = "rwlt-" + UUID().uuidString.prefix(8)
        let password = "p@ss:w/rd%"
        #expect(try admin.command(command("ACL", "SETUSER", user, "on", ">" + password, "~\(prefix)*", "+@all")) == .status("OK"))
        defer { _ = try? admin.command(command("ACL", "DELUSER", user)) }

        guard case .tcp(let host, let port) = try RedisEndpoint.fromEnvironment().address else {
            Issue.record("REDIS_URL must name a TCP server for this test")
            return
        }
        let encoded = "p%40ss%3Aw%2Frd%25"
        let asUser = try directConnection(RedisEndpoint(url: "redis://\(user):\(encoded)@\(host):\(port)"))
        #expect(try asUser.command(command("ACL", "WHOAMI")) == .bulk(user))
        #expect(try asUser.command(command("SET", prefix + "k", "v")) == .status("OK"))
        #expect(errorText(try asUser.command(command("GET", "elsewhere:k")))?.hasPrefix("NOPERM") == true)
        _ = try admin.command(command("DEL", prefix + "k"))

        let wrong = #expect(throws: RWLockError.self) {
            try directConnection(RedisEndpoint(url: "redis://\(user):nope@\(host):\(port)"))
        }
        #expect(wrong?.kind == .server)
        #expect(wrong?.serverMessage?.hasPrefix("WRONGPASS") == true)

        // A password-only AUTH reaches the server (which has no requirepass
        // here, so it refuses); the unix-socket test covers success.
        let passwordOnly = #expect(throws: RWLockError.self) {
            try directConnection(RedisEndpoint(url: "redis://:whatever@\(host):\(port)"))
        }
        #expect(passwordOnly?.kind == .server)
    }

    @Test func selectDatabase() throws {
        let key = uniquePrefix() + "db"
        var endpoint = try RedisEndpoint.fromEnvironment()
        endpoint.database = 5
        let db5 = try directConnection(endpoint)
        let db0 = try directConnection()
        #expect(try db5.command(command("SET", key, "five")) == .status("OK"))
        #expect(try db0.command(command("GET", key)) == .null)
        #expect(try db5.command(command("GET", key)) == .bulk("five"))
        #expect(try db5.command(command("DEL", key)) == .integer(1))

        endpoint.database = 100_000
        let error = #expect(throws: RWLockError.self) { try directConnection(endpoint) }
        #expect(error?.kind == .server)
    }

    @Test func closedPortFailsFast() async throws {
        let closed = RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1))
        let start = ContinuousClock.now
        let error = #expect(throws: RWLockError.self) { try directConnection(closed) }
        #expect(error?.kind == .connection)
        #expect(error?.description.contains("127.0.0.1:1") == true)

        let client = try RWLockClient(endpoint: closed, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let viaClient = await #expect(throws: RWLockError.self) { try await client.send(["PING"]) }
        #expect(viaClient?.kind == .connection)
        #expect(ContinuousClock.now - start < .seconds(1))
    }

    /// A connection the server closed while idle is noticed before the next
    /// command is written to it (a zero-timeout poll sees the EOF): the
    /// command goes to a fresh connection and succeeds, rather than failing
    /// with an outcome the caller cannot know.
    @Test func killedIdleConnectionIsReplacedBeforeUse() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close() }
        guard case .integer(let id) = try await client.send(["CLIENT", "ID"]) else {
            Issue.record("CLIENT ID did not return an integer")
            return
        }
        let killer = try directConnection()
        #expect(try killer.command(command("CLIENT", "KILL", "ID", String(id))) == .integer(1))

        #expect(try await client.send(["PING"]) == .status("PONG"))
        #expect(client.pool.statistics.connectionsOpened == 2)
    }

    @Test func commandTimeoutBreaksTheConnection() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1, commandTimeout: .milliseconds(200)))
        defer { client.close() }
        let start = ContinuousClock.now
        let error = await #expect(throws: RWLockError.self) {
            try await client.send(["BLPOP", uniquePrefix() + "never", "5"])
        }
        #expect(error?.kind == .connection)
        #expect(error?.description.contains("timeout") == true)
        #expect(ContinuousClock.now - start < .seconds(2))
        #expect(try await client.send(["PING"]) == .status("PONG"))
    }

    @Test func manyCallersShareFourThreads() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 4))
        let key = uniquePrefix() + "counter"
        try await withThrowingTaskGroup(of: RESPValue.self) { group in
            for index in 0..<200 {
                group.addTask {
                    // Some callers hold their connection for a while so that
                    // the queue backs up and every worker gets used.
                    if index % 10 == 0 {
                        try await client.send(["BLPOP", key + ":none", "0.05"])
                    } else {
                        try await client.send(["INCR", key])
                    }
                }
            }
            for try await _ in group {}
        }
        #expect(try await client.send(["GET", key]) == .bulk("180"))
        _ = try await client.send(["DEL", key])
        let statistics = client.pool.statistics
        #expect(statistics.threadsStarted == 4)
        #expect(statistics.connectionsOpened == 4)
        #expect(statistics.peakBusyWorkers == 4)

        // The async shutdown returns only once every worker thread has ended.
        await client.shutdown()
        #expect(client.pool.statistics.threadsAlive == 0)
        let error = await #expect(throws: RWLockError.self) { try await client.send(["PING"]) }
        #expect(error?.kind == .shutdown)
    }

    @Test func droppingTheClientEndsItsThreads() async throws {
        let pool: ConnectionPool
        do {
            let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 2))
            #expect(try await client.send(["PING"]) == .status("PONG"))
            pool = client.pool
        }
        let deadline = ContinuousClock.now + .seconds(3)
        while pool.statistics.threadsAlive > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(pool.statistics.threadsStarted == 1)
        #expect(pool.statistics.threadsAlive == 0)
    }

    @Test func ipv6LoopbackWhenAvailable() throws {
        guard case .tcp(let host, let port) = try RedisEndpoint.fromEnvironment().address,
            host == "127.0.0.1" || host == "localhost"
        else {
            Issue.record("REDIS_URL must name a server on 127.0.0.1 for this test")
            return
        }
        // Not every machine has IPv6 loopback or a server listening on it;
        // what must hold is that hiredis either talks to [::1] or reports a
        // connection error, never anything else.
        do {
            let connection = try directConnection(RedisEndpoint(url: "redis://[::1]:\(port)"))
            #expect(try connection.command(command("PING")) == .status("PONG"))
        } catch let error as RWLockError {
            #expect(error.kind == .connection)
        }
    }

    @Test func cancelledWhileQueuedNeverRuns() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let key = uniquePrefix() + "cancel"
        // Occupy the only connection, then queue a second command and cancel
        // it once the pool shows it waiting (polled, not slept on).
        async let blocker = client.send(["BLPOP", key + ":none", "1"])
        try await eventually { client.pool.load.busy == 1 }
        let queued = Task { try await client.send(["SET", key, "ran"]) }
        try await eventually { client.pool.load.queued == 1 }
        queued.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        #expect(try await blocker == .null)
        #expect(try await client.send(["GET", key]) == .null)
    }
}

// MARK: - Private server on a unix socket with requirepass

private let redisServerPath = LiveEnvironment.redisServer

@Suite("Live Redis over a unix socket", .enabled(if: LiveEnvironment.runs(LiveEnvironment.redisURL != nil && redisServerPath != nil)))
struct UnixSocketTests {
    @Test func passwordAuthAndDatabaseOverUnixSocket() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rwlt-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let socket = directory.appendingPathComponent("redis.sock").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: redisServerPath!)
        server.arguments = [
            "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "",
            "--appendonly", "no", "--dir", directory.path, "--requirepass", "s3cr@t",
        ]
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        defer {
            // Not terminate(): the child inherits the spawning (Dispatch)
            // thread's signal mask, which blocks SIGTERM, so redis-server
            // would never see it. SIGKILL cannot be blocked.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while !FileManager.default.fileExists(atPath: socket) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }

        let authed = try directConnection(RedisEndpoint(url: "unix://:s3cr%40t@\(socket)?db=2"))
        #expect(try authed.command(command("PING")) == .status("PONG"))
        #expect(try authed.command(command("SET", "k", "in-db-2")) == .status("OK"))

        // A bare path connects but sends no AUTH, so commands are refused.
        let anonymous = try directConnection(RedisEndpoint(url: socket))
        guard case .error(let message) = try anonymous.command(command("PING")) else {
            Issue.record("expected NOAUTH")
            return
        }
        #expect(message.hasPrefix("NOAUTH"))

        let wrong = #expect(throws: RWLockError.self) {
            try directConnection(RedisEndpoint(url: "unix://:wrong@\(socket)"))
        }
        #expect(wrong?.serverMessage?.hasPrefix("WRONGPASS") == true)

        let client = try RWLockClient(endpoint: try RedisEndpoint(url: "unix://:s3cr%40t@\(socket)?db=2"))
        defer { client.close() }
        #expect(try await client.send(["GET", "k"]) == .bulk("in-db-2"))
    }
}

/// Polls `condition` until it holds, failing after `limit`.
private func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("condition did not hold within \(limit)")
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}
