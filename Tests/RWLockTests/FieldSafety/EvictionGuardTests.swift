import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R3 on real servers: a Redis that may evict keys (`maxmemory` with any
    /// policy but `noeviction`) grants no lock unless the user opted out, and
    /// the opt-out really takes the risk the guard exists for.
    @Suite(.enabled(if: LiveEnvironment.runs(PrivateServer.path != nil)), .timeLimit(.minutes(2)))
    struct EvictionGuardTests {
        static let evictingPolicies = ["volatile-ttl", "volatile-lru", "volatile-lfu", "volatile-random",
                                       "allkeys-lru", "allkeys-lfu", "allkeys-random"]

        func client(_ server: PrivateServer) throws -> RWLockClient {
            try RWLockClient(endpoint: try RedisEndpoint(url: server.socket), configuration: .init(maxConnections: 1))
        }

        func options(allowEviction: Bool = false) -> RWLock.Options {
            // The servers here are fresh: the quarantine is another test's subject.
            RWLock.Options(allowEviction: allowEviction, restartQuarantine: .disabled)
        }

        @Test func everyEvictingPolicyIsRefusedBeforeAnyGrant() async throws {
            let server = try PrivateServer(["--maxmemory", "4mb"])
            try await server.start()
            for policy in Self.evictingPolicies {
                _ = try await server.command(["CONFIG", "SET", "maxmemory-policy", policy])
                // A new client, so a new connection, which reads INFO afresh.
                let client = try client(server)
                defer { client.close() }
                let lock = try RWLock(name: "evict", client: client, options: options())
                for mode in [Lease.Mode.write, .read] {
                    let error = await #expect(throws: RWLockError.self) {
                        _ = try await (mode == .write ? lock.acquireWrite(timeout: .seconds(1)) : lock.acquireRead(timeout: .seconds(1)))
                    }
                    #expect(error?.kind == .unsafeServer, "\(policy): \(String(describing: error))")
                    let text = error.map(String.init(describing:)) ?? ""
                    #expect(text.contains("maxmemory-policy \(policy)") && text.contains("maxmemory 4194304"), "\(text)")
                    #expect(text.contains("set maxmemory-policy noeviction, or keep locks on a Redis of their own"), "\(text)")
                }
                // Refused, not "busy": IfAvailable throws rather than returning nil.
                let tryOnce = await #expect(throws: RWLockError.self) { _ = try await lock.withWriteLockIfAvailable { _ in true } }
                #expect(tryOnce?.kind == .unsafeServer)
                #expect(try await server.command(["DBSIZE"]) == .integer(0), "\(policy): something was written")
            }
        }

        @Test func aServerThatCannotEvictIsAccepted() async throws {
            for arguments in [["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"],
                              ["--maxmemory", "0", "--maxmemory-policy", "volatile-ttl"]] {
                let server = try PrivateServer(arguments)
                try await server.start()
                let client = try client(server)
                defer { client.close() }
                let lock = try RWLock(name: "kept", client: client, options: options())
                let fence = try await lock.withWriteLock(timeout: .seconds(2)) { fence in fence }
                #expect(fence.value > 0, "\(arguments)")
            }
        }

        /// INFO is read once per connection, not per acquire.
        @Test func infoIsReadOncePerConnection() async throws {
            let server = try PrivateServer()
            try await server.start()
            let client = try client(server)
            defer { client.close() }
            let lock = try RWLock(name: "once", client: client, options: options())
            for _ in 0..<10 { try await lock.withWriteLock { _ in } }
            guard case .bulk(let stats) = try await server.command(["INFO", "commandstats"]) else {
                Issue.record("INFO commandstats")
                return
            }
            // The lock's one connection read INFO memory and INFO server; the
            // probe's own INFO commandstats is not counted yet when it runs.
            let line = String(decoding: stats, as: UTF8.self).split(whereSeparator: \.isNewline).first { $0.hasPrefix("cmdstat_info:") }
            #expect(line?.hasPrefix("cmdstat_info:calls=2,") == true, "\(String(describing: line))")
        }

        /// What the guard prevents, shown with the opt-out: on volatile-ttl the
        /// lock's short-lived keys are evicted first as cache entries fill the
        /// server, and a second writer is granted while the first still holds.
        @Test func theOptOutAcceptsARealRisk() async throws {
            let server = try PrivateServer(["--maxmemory", "4mb", "--maxmemory-policy", "volatile-ttl"])
            try await server.start()
            let client = try client(server)
            defer { client.close() }
            var lease = RWLock.Options(lease: .seconds(30), allowEviction: true, restartQuarantine: .disabled)
            let lock = try RWLock(name: "risk", client: client, options: lease)
            let first = try await lock.acquireWrite(timeout: .seconds(2))
            let value = String(repeating: "x", count: 1024)
            var written = 0
            while written < 20_000, try await server.command(["EXISTS", "rwlock:{risk}:writer"]) == .integer(1) {
                _ = try await server.commands((written..<written + 100).map { ["SET", "cache:\($0)", value, "EX", "3600"] })
                written += 100
            }
            lease.lease = .seconds(1)
            let second = try await RWLock(name: "risk", client: client, options: lease).acquireWrite(timeout: .seconds(2))
            print("volatile-ttl evicted the write lease after \(written) cache entries; a second writer was granted")
            #expect(first.isValid && second.isValid, "two write leases, both valid: the overlap the guard refuses")
        }

        @Test func rwlockExits78WithoutRunningCommand() async throws {
            let server = try PrivateServer(["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"])
            try await server.start()
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let ran = files.appendingPathComponent("ran").path
            let command = ["--restart-quarantine", "0", "--", "sh", "-c", ": > \"$1\"", "job", ran]
            let refused = try await RwlockCommandTests.Run(["write", "cfg", "--url", server.socket] + command).finish()
            #expect(refused.status == 78, "\(refused.stderr)")
            #expect(refused.stderr.contains("maxmemory-policy allkeys-lru"))
            #expect(!FileManager.default.fileExists(atPath: ran), "COMMAND ran on a refused server")
            let allowed = try await RwlockCommandTests.Run(["write", "cfg", "--url", server.socket, "--allow-eviction"] + command).finish()
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(FileManager.default.fileExists(atPath: ran))
        }
    }
}

extension FieldSafety.EvictionGuardTests {
    /// R3 where CONFIG is disabled, as managed Redis often has it: the
    /// guard reads INFO, so it still tells an evicting server from a safe
    /// one.
    @Test(arguments: [("allkeys-lru", false), ("noeviction", true)])
    func theGuardWorksWithConfigDisabled(policy: String, granted: Bool) async throws {
        let server = try PrivateServer(["--maxmemory", "64mb", "--maxmemory-policy", policy, "--rename-command", "CONFIG", ""])
        try await server.start()
        let config = try await server.command(["CONFIG", "GET", "maxmemory"])
        guard case .error(let message) = config, message.contains("unknown command") else {
            Issue.record("CONFIG is not disabled: \(config)")
            return
        }
        let client = try client(server)
        defer { client.close() }
        let lock = try RWLock(name: "config-off", client: client, options: options())
        if granted {
            #expect(try await lock.withWriteLock(timeout: .seconds(2)) { _ in true })
        } else {
            let error = await #expect(throws: RWLockError.self) { _ = try await lock.acquireWrite(timeout: .seconds(1)) }
            #expect(error?.kind == .unsafeServer, "\(String(describing: error))")
            #expect(error.map(String.init(describing:))?.contains("maxmemory-policy \(policy)") == true)
        }
    }
}
