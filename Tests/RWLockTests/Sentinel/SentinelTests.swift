import Foundation
import Testing

@testable import RWLock

/// The local Sentinel deployment `scripts/redis-sentinel.sh start DIR`
/// brought up (one master, two replicas, three sentinels), as
/// `scripts/test` exports it: REDIS_SENTINEL_URL and REDIS_SENTINEL_DIR.
enum SentinelFixture {
    static let url = ProcessInfo.processInfo.environment["REDIS_SENTINEL_URL"]
    static let directory = ProcessInfo.processInfo.environment["REDIS_SENTINEL_DIR"]
    static var isAvailable: Bool { LiveEnvironment.runs(url != nil && directory != nil) }
    static let script = TLSFixture.packageRoot.appendingPathComponent("scripts/redis-sentinel.sh")

    static func requireURL() throws -> String {
        guard let url, directory != nil else {
            throw LiveEnvironment.Missing(description: "REDIS_SENTINEL_URL and REDIS_SENTINEL_DIR are not set: start one with "
                + "scripts/redis-sentinel.sh start DIR and export both")
        }
        return url
    }

    /// Runs the fixture script (`kill-master`, `restart`, `ports`...) on a
    /// thread of its own; its stdout.
    static func run(_ arguments: [String]) async throws -> String {
        guard let directory else { throw LiveEnvironment.Missing(description: "REDIS_SENTINEL_DIR is not set") }
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("sentinel-\(UUID().uuidString)")
        let (out, err) = (files.path + ".out", files.path + ".err")
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        let argv = [script.path, arguments[0], directory] + arguments.dropFirst()
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread { continuation.resume(returning: ClusterFixture.spawnAndWait(argv, stderrPath: err, stdoutPath: out)) }.start()
        }
        guard status == 0 else {
            throw LiveEnvironment.Missing(description: "redis-sentinel.sh \(arguments.joined(separator: " ")) exited \(status): "
                + ((try? String(contentsOfFile: err, encoding: .utf8)) ?? ""))
        }
        return (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    }

    /// `KIND PORT PID` per process, as `ports` prints them.
    static func processes() async throws -> [(kind: String, port: Int, pid: pid_t?)] {
        try await run(["ports"]).split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let port = Int(fields[1]) else { return nil }
            return (String(fields[0]), port, pid_t(fields[2]))
        }
    }

    static func client(retryWindow: Duration = .seconds(20), maxConnections: Int = 4) throws -> RWLockClient {
        try RWLockClient(deployment: try RedisDeployment(url: try requireURL()), configuration: .init(maxConnections: maxConnections, clusterRetryWindow: retryWindow))
    }

    /// A client of one data node, for admin commands to it.
    static func admin(port: Int) throws -> RWLockClient {
        try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port)), configuration: .init(maxConnections: 1))
    }
}

/// Redis Sentinel, one test at a time (they kill and restart nodes): the
/// lock through the sentinels, across a SIGKILLed master, with the old
/// master back as a replica, with a sentinel down and with all of them down.
@Suite("Redis Sentinel", .serialized, .enabled(if: SentinelFixture.isAvailable), .timeLimit(.minutes(5)))
struct SentinelTests {
    struct Grant: Sendable {
        let at: ContinuousClock.Instant
        let fence: Fence
    }

    func name(_ test: String = #function) -> String { "s-\(test.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))" }

    @Test func locksThroughTheSentinels() async throws {
        let client = try SentinelFixture.client()
        defer { client.close() }
        let lock = try RWLock(name: name(), client: client)
        let fence = try await lock.withWriteLock(timeout: .seconds(5)) { fence in fence }
        #expect(fence.value > 0)
        #expect(try await lock.withReadLock(timeout: .seconds(5)) { true })
        let master = try #require(client.sentinelRouter?.master)
        let reported = try await SentinelFixture.run(["master"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(String(master.port) == reported, "the client uses \(master), the sentinels name \(reported)")
        let result = try await RwlockCommandTests.Run(["write", name(), "--url", try SentinelFixture.requireURL(), "--", "true"]).finish()
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Writers with replicated grants (WAIT 1) keep writing while the
    /// master is SIGKILLed: they continue on the promoted replica, nothing
    /// overlaps, the first grant after the kill comes within the failover
    /// time plus the retry backoff, and the other replica, now following
    /// the new master, confirms the grants. The old master then comes back
    /// as a replica, and nothing is sent to it.
    @Test func aKilledMasterIsFollowedWithoutOverlapAndTheOldOneGetsNothing() async throws {
        let client = try SentinelFixture.client(retryWindow: .seconds(30), maxConnections: 8)
        defer { client.close() }
        var options = RWLock.Options(lease: .seconds(1))
        options.replicatedGrants = .init(replicas: 1, timeout: .milliseconds(300))
        let lock = try RWLock(name: name(), client: client, options: options)
        _ = try await lock.withWriteLock(timeout: .seconds(5)) { _ in }
        let timeline = Timeline()
        let grants = Box<[Grant]>([])
        let enough = Box(false)
        let writers = (0..<4).map { _ in
            Task {
                while !enough.withLock({ $0 }) {
                    do {
                        try await lock.withWriteLock(timeout: .seconds(30)) { fence in
                            // When the grant was seen, not when the body ended: a
                            // body under way at the kill is not a grant after it.
                            let granted = ContinuousClock.now
                            try await timeline.record(.write) { try await Task.sleep(for: .milliseconds(5)) }
                            grants.withLock { $0.append(Grant(at: granted, fence: fence)) }
                        }
                    } catch let error as RWLockError where [.connection, .notReplicated, .leaseLost].contains(error.kind) {
                        // A grant or release caught by the kill: tried again.
                        continue
                    }
                }
            }
        }
        #expect(await ProcessProbe.eventually { grants.withLock { $0.count } >= 20 })
        let oldPort = try #require(Int(try await SentinelFixture.run(["kill-master"]).trimmingCharacters(in: .whitespacesAndNewlines)))
        let killed = ContinuousClock.now
        #expect(await ProcessProbe.eventually(within: .seconds(30)) { grants.withLock { $0.filter { $0.at > killed }.count } >= 20 },
                "the writers did not carry on after the master was killed")
        enough.withLock { $0 = true }
        for writer in writers { _ = await writer.result }

        let after = grants.withLock { $0.filter { $0.at > killed } }
        let firstAfter = try #require(after.map(\.at).min()) - killed
        print("Sentinel: first grant \(firstAfter) after the master's SIGKILL; \(after.count) grants after it, all confirmed by a replica")
        #expect(firstAfter < .seconds(15), "the first grant after the kill took \(firstAfter)")
        #expect(timeline.overlapsBreakingExclusion().isEmpty, "two writers overlapped across the failover")
        // Grants are exclusive, so appended in grant order: fences increase
        // strictly, across the failover too (S6).
        let fences = grants.withLock { $0.map(\.fence.value) }
        #expect(zip(fences, fences.dropFirst()).allSatisfy { $0 < $1 }, "fences did not strictly increase")
        let newMaster = try #require(client.sentinelRouter?.master)
        #expect(newMaster.port != oldPort)

        // The old master comes back: an empty master until Sentinel makes it
        // a replica. Lock meanwhile, then ask it what it was sent.
        _ = try await SentinelFixture.run(["restart", String(oldPort), "--no-wait"])
        let old = try SentinelFixture.admin(port: oldPort)
        defer { old.close() }
        for _ in 0..<20 { try await lock.withWriteLock(timeout: .seconds(10)) { _ in } }
        _ = try await SentinelFixture.run(["wait-replica", String(oldPort)])
        guard case .bulk(let stats) = try await old.send(["INFO", "commandstats"]) else {
            Issue.record("INFO commandstats of the old master did not answer")
            return
        }
        let text = String(decoding: stats, as: UTF8.self)
        #expect(!text.contains("cmdstat_evalsha"), "a lock script was sent to the old master: \(text)")
        #expect(client.sentinelRouter?.pooledNodes.contains(NodeAddress(host: "127.0.0.1", port: oldPort)) == false)
    }

    /// One sentinel down: a new client finds the master through the others.
    @Test func aSentinelDownIsPassedOver() async throws {
        let sentinel = try #require(try await SentinelFixture.processes().first { $0.kind == "sentinel" })
        let pid = try #require(sentinel.pid)
        kill(pid, SIGKILL)
        defer { Task { _ = try? await SentinelFixture.run(["restart", String(sentinel.port)]) } }
        #expect(await ProcessProbe.eventually { !ProcessProbe.isRunning(pid) })
        let client = try SentinelFixture.client()
        defer { client.close() }
        #expect(try await RWLock(name: name(), client: client).withWriteLock(timeout: .seconds(10)) { _ in true })
        _ = try await SentinelFixture.run(["restart", String(sentinel.port)])
    }

    /// Every sentinel down: no master can be found; a clear error naming
    /// the sentinels, and rwlock exits 69.
    @Test func allSentinelsDownIsAClearError() async throws {
        let sentinels = try await SentinelFixture.processes().filter { $0.kind == "sentinel" }
        #expect(sentinels.count == 3)
        for sentinel in sentinels { if let pid = sentinel.pid { kill(pid, SIGKILL) } }
        defer {
            Task { for sentinel in sentinels { _ = try? await SentinelFixture.run(["restart", String(sentinel.port), "--no-wait"]) } }
        }
        #expect(await ProcessProbe.eventually { sentinels.allSatisfy { $0.pid.map { !ProcessProbe.isRunning($0) } ?? true } })
        let client = try SentinelFixture.client(retryWindow: .seconds(1))
        defer { client.close() }
        let error = await #expect(throws: RWLockError.self) {
            try await RWLock(name: name(), client: client).withWriteLock(timeout: .seconds(3)) { _ in }
        }
        #expect(error?.kind == .connection, "\(String(describing: error))")
        #expect(error.map(String.init(describing:))?.contains("sentinel") == true, "\(String(describing: error))")
        let result = try await RwlockCommandTests.Run(["write", name(), "--url", try SentinelFixture.requireURL(),
                                                       "--timeout", "3s", "--", "true"]).finish()
        #expect(result.status == 69, "\(result.stderr)")
        for sentinel in sentinels { _ = try await SentinelFixture.run(["restart", String(sentinel.port)]) }
    }
}
