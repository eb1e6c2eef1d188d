import Foundation
import Testing

@testable import RWLock

#if canImport(Glibc)
import Glibc
#endif

/// The local cluster `scripts/redis-cluster.sh start DIR` brought up, as
/// `scripts/test` exports it: REDIS_CLUSTER_URL (the URL it printed) and
/// REDIS_CLUSTER_DIR (its DIR, where each node's pid file is).
enum ClusterFixture {
    static let url = ProcessInfo.processInfo.environment["REDIS_CLUSTER_URL"]
    static let directory = ProcessInfo.processInfo.environment["REDIS_CLUSTER_DIR"]
    /// Never false under scripts/test, which starts the cluster.
    static var isAvailable: Bool { LiveEnvironment.runs(url != nil && directory != nil) }

    static func requireURL() throws -> String {
        guard let url, directory != nil else {
            throw LiveEnvironment.Missing(description: "REDIS_CLUSTER_URL and REDIS_CLUSTER_DIR are not set: "
                + "start a cluster with scripts/redis-cluster.sh start DIR and export both")
        }
        return url
    }

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/redis-cluster.sh")

    static func client(maxConnections: Int = 4, retryWindow: Duration = .seconds(30)) throws -> RWLockClient {
        try RWLockClient(deployment: try RedisDeployment(url: try requireURL()), configuration: .init(maxConnections: maxConnections, clusterRetryWindow: retryWindow))
    }

    /// A single-server client for one node, for admin commands sent to that
    /// node itself (CLUSTER SLOTS, INFO, CLUSTER FAILOVER, EXISTS).
    static func admin(_ node: NodeAddress) throws -> RWLockClient {
        try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: node.host, port: node.port)), configuration: .init(maxConnections: 1, commandTimeout: .seconds(5)))
    }

    static var allNodes: [NodeAddress] {
        guard case .cluster(let seeds)? = (try? RedisDeployment(url: url ?? ""))?.kind else { return [] }
        return seeds.compactMap { seed in
            guard case .tcp(let host, let port) = seed.address else { return nil }
            return NodeAddress(host: host, port: port)
        }
    }

    /// Who serves what, asked of the first live node, with each master's
    /// replicas: the tests' independent view of the cluster.
    struct Layout {
        var map: SlotMap
        var replicas: [NodeAddress: [NodeAddress]]

        func master(ofLock name: String) -> NodeAddress {
            map[HashSlot(key: Array(name.utf8))]!
        }
    }

    static func layout() async throws -> Layout {
        var lastError: (any Error)? = nil
        for node in allNodes {
            let admin = try admin(node)
            defer { admin.close() }
            do {
                let reply = try await admin.send(["CLUSTER", "SLOTS"])
                var replicas: [NodeAddress: [NodeAddress]] = [:]
                if case .array(let ranges) = reply {
                    for case .array(let fields) in ranges where fields.count >= 3 {
                        let master = try SlotMap.node(fields[2], askedHost: node.host)
                        // A master serving several ranges lists its replicas once per range.
                        for replica in try fields.dropFirst(3).map({ try SlotMap.node($0, askedHost: node.host) })
                        where !(replicas[master]?.contains(replica) ?? false) {
                            replicas[master, default: []].append(replica)
                        }
                    }
                }
                return Layout(map: try SlotMap(clusterSlots: reply, askedHost: node.host), replicas: replicas)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RWLockError.connection("no cluster node answered")
    }

    /// ``layout()`` once it lists a replica for every master. Redis 7.0
    /// leaves a replica out of CLUSTER SLOTS until gossip has carried a
    /// non-zero replication offset for it, which can lag a freshly started
    /// or healed cluster by a moment.
    static func layoutWithReplicas() async throws -> Layout {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let layout = try await layout()
            if layout.map.masters.allSatisfy({ !(layout.replicas[$0] ?? []).isEmpty }) || ContinuousClock.now > deadline {
                return layout
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// One lock name per master, in the masters' order: locks spread over
    /// the whole cluster.
    static func namesOnEveryMaster(_ prefix: String, layout: Layout) -> [NodeAddress: String] {
        var names: [NodeAddress: String] = [:]
        var index = 0
        while names.count < layout.map.masters.count {
            let name = "\(prefix)-\(index)"
            names[layout.master(ofLock: name)] = names[layout.master(ofLock: name)] ?? name
            index += 1
        }
        return names
    }

    /// A lock name served by `master`.
    static func name(on master: NodeAddress, _ prefix: String, layout: Layout) -> String {
        var index = 0
        while layout.master(ofLock: "\(prefix)-\(index)") != master { index += 1 }
        return "\(prefix)-\(index)"
    }

    static func pid(of node: NodeAddress) throws -> pid_t {
        let file = URL(fileURLWithPath: directory ?? "").appendingPathComponent("node-\(node.port)/redis.pid")
        let text = try String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return try #require(pid_t(text), "pid file \(file.path) holds '\(text)'")
    }

    static func signal(_ node: NodeAddress, _ number: Int32) throws {
        let pid = try pid(of: node)
        #expect(kill(pid, number) == 0, "kill(\(pid), \(number)) failed: errno \(errno)")
    }

    /// SIGKILLs `node`, runs `body`, then heals the cluster whether `body`
    /// threw or not, so one failed test cannot leave the next a broken
    /// cluster.
    static func killing<T>(_ node: NodeAddress, _ body: () async throws -> T) async throws -> T {
        try signal(node, SIGKILL)
        // kill(2) returns before the process is gone; until its sockets are
        // closed a command could still be written to it and meet a reset.
        // A test that means "after the master died" waits for that.
        try await waitUntilRefusing(node)
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        try await heal(node)
        return try result.get()
    }

    /// Waits until `node`'s port refuses connections: the process has
    /// closed every socket. (A zombie thread-group leader can show as dead
    /// in /proc while its other threads still hold the sockets open.)
    static func waitUntilRefusing(_ node: NodeAddress) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let probe = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: node.host, port: node.port)), configuration: .init(maxConnections: 1, connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(200)))
            defer { probe.close() }
            do {
                _ = try await probe.send(["PING"])
            } catch let error as RWLockError where error.commandDidNotRun {
                return
            } catch {}
            try await Task.sleep(for: .milliseconds(2))
        }
        throw RWLockError.connection("\(node) still accepted connections 10 s after SIGKILL")
    }

    /// Restarts a killed node (it rejoins as a replica) and waits until every
    /// master has a replica in sync again, so the next test starts from a
    /// whole cluster.
    static func heal(_ node: NodeAddress) async throws {
        try await runScript(["restart", directory ?? "", String(node.port)])
        print("heal: restarted \(node)")
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await isWhole(), try await replicasAcknowledgeWrites() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        // The next test would run on a broken cluster: stop here, loudly.
        throw RWLockError.connection("the cluster did not become whole again within 60 s after restarting \(node)")
    }

    /// Every node up and in state ok; three masters, each with a replica
    /// that the master itself counts as online (what WAIT relies on) and
    /// that says its link is up.
    static func isWhole() async throws -> Bool {
        var mastersWithReplica = 0
        var linkedReplicas = 0
        for node in allNodes {
            let admin = try admin(node)
            defer { admin.close() }
            guard let info = try? await admin.send(["CLUSTER", "INFO"]).string, info.contains("cluster_state:ok"),
                let replication = try? await admin.send(["INFO", "replication"]).string
            else { return false }
            if replication.contains("role:master"), replication.contains("connected_slaves:1"),
                replication.contains("state=online")
            {
                mastersWithReplica += 1
            }
            if replication.contains("role:slave"), replication.contains("master_link_status:up") {
                linkedReplicas += 1
            }
        }
        return mastersWithReplica == 3 && linkedReplicas == 3
    }

    /// Whether every master gets a write confirmed by WAIT: a replica that
    /// has just come online (diskless sync) does not acknowledge writes for
    /// a moment, and tests that use replicated grants need it to.
    static func replicasAcknowledgeWrites() async throws -> Bool {
        let layout = try await layout()
        for master in layout.map.masters {
            let admin = try admin(master)
            defer { admin.close() }
            let probe = name(on: master, "heal-probe", layout: layout)
            guard try await admin.send(["SET", probe, "1", "PX", "1000"]) == .status("OK"),
                try await admin.send(["WAIT", "1", "200"]) == .integer(1)
            else { return false }
        }
        return true
    }

    /// How many connections subscribe to `channel` on `nodes` together
    /// (PUBSUB NUMSUB counts only the node asked); nodes that do not answer
    /// count zero.
    static func subscribers(to channel: [UInt8], on nodes: [NodeAddress]) async -> Int64 {
        var total: Int64 = 0
        for node in nodes {
            guard let admin = try? admin(node) else { continue }
            defer { admin.close() }
            if case .array(let pair)? = try? await admin.send([Array("PUBSUB".utf8), Array("NUMSUB".utf8), channel]),
                pair.count == 2, case .integer(let count) = pair[1]
            {
                total += count
            }
        }
        return total
    }

    /// Waits until `node` says it is a master (after a failover).
    static func waitUntilMaster(_ node: NodeAddress, within limit: Duration = .seconds(30)) async throws -> Bool {
        let admin = try admin(node)
        defer { admin.close() }
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let info = try? await admin.send(["INFO", "replication"]).string, info.contains("role:master") { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Polls `condition` every 5 ms for up to `limit`: tests wait for the
    /// state they need, not for a guessed time.
    static func eventually(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try await condition()
    }

    /// Runs scripts/redis-cluster.sh with `arguments` and fails the test on
    /// a non-zero exit.
    ///
    /// posix_spawn and waitpid on a thread of its own rather than
    /// Foundation's Process: `restart` starts a daemon that inherits the
    /// script's descriptors, and Process then never reported the script's
    /// exit (it hung both with waitUntilExit and a termination handler).
    static func runScript(_ arguments: [String]) async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-script-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let argv = [script.path] + arguments
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let thread = Thread { continuation.resume(returning: spawnAndWait(argv, stderrPath: log)) }
            thread.start()
        }
        let stderr = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "redis-cluster.sh \(arguments.joined(separator: " ")) exited \(status): \(stderr)")
    }

    /// Spawns `argv` with stdin on /dev/null, stdout on /dev/null or
    /// `stdoutPath`, and stderr to a file, and returns its exit status (or -1
    /// when it could not start). posix_spawn and waitpid, not Foundation's
    /// Process: the scripts start daemons that keep inherited descriptors,
    /// and Process then never sees the script end.
    static func spawnAndWait(_ argv: [String], stderrPath: String, stdoutPath: String = "/dev/null") -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for argument in cArguments { free(argument) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

/// A store that accepts a write only with a fencing token at least as high
/// as any it has seen: the "store" of the fencing contract (DocC "The Contract", S6), kept in
/// memory.
actor FencedStore {
    private(set) var highest: Fence? = nil
    private(set) var value: String? = nil

    /// Applies `value` unless `fence` is older than one already seen.
    /// - Returns: whether the write was accepted.
    func write(_ value: String, fence: Fence) -> Bool {
        if let highest, fence < highest { return false }
        highest = fence
        self.value = value
        return true
    }
}
