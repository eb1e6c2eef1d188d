import Foundation
import Testing

@testable import RWLock

extension ClusterTests {
    /// A Redis Cluster over TLS (`scripts/redis-cluster.sh start DIR --tls
    /// PKI`: clients, the cluster bus and replication all on TLS), reached
    /// through a `rediss+cluster://` URL: the nodes the client learns from
    /// CLUSTER SLOTS are TLS nodes too, verified with the test CA.
    @Suite("TLS cluster", .enabled(if: LiveEnvironment.runs(ProcessInfo.processInfo.environment["REDIS_TLS_CLUSTER_URL"] != nil)))
    struct TLS {
        static func url() throws -> String {
            guard let url = ProcessInfo.processInfo.environment["REDIS_TLS_CLUSTER_URL"] else {
                throw LiveEnvironment.Missing(description: "REDIS_TLS_CLUSTER_URL is not set: start one with "
                    + "scripts/redis-cluster.sh start DIR --tls PKI, and export RWLOCK_TEST_PKI=PKI")
            }
            return url
        }

        static func ca() throws -> String {
            guard let pki = ProcessInfo.processInfo.environment["RWLOCK_TEST_PKI"] else {
                throw LiveEnvironment.Missing(description: "RWLOCK_TEST_PKI is not set (the PKI of the TLS cluster)")
            }
            return pki + "/ca.crt"
        }

        /// A lock on each master, written and read through TLS connections
        /// to each; a grant confirmed by a replica over TLS replication.
        @Test func locksOnEveryMasterOverTLS() async throws {
            let tls = TLSConfiguration(caFile: try Self.ca())
            let client = try RWLockClient(url: try Self.url(), configuration: .init(clusterRetryWindow: .seconds(30), tls: tls))
            defer { client.close() }
            var options = RWLock.Options(restartQuarantine: .disabled)
            options.replicatedGrants = .init(replicas: 1, timeout: .milliseconds(300))
            var masters: Set<NodeAddress> = []
            for index in 0..<24 {
                let lock = try RWLock(name: "tls-\(index)-\(UUID().uuidString.prefix(4))", client: client, options: options)
                let fence = try await lock.withWriteLock(timeout: .seconds(10)) { fence in fence }
                #expect(fence.value > 0)
                #expect(try await lock.withReadLock(timeout: .seconds(10)) { true })
                if let master = client.router?.slotMap?[HashSlot(key: lock.keys[0])] { masters.insert(master) }
            }
            #expect(masters.count == 3, "the locks did not reach every master: \(masters)")
        }

        /// rwlock processes through the TLS cluster never overlap.
        @Test func rwlockProcessesDoNotOverlapOverTLS() async throws {
            let name = "tls-overlap-\(UUID().uuidString.prefix(8))"
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-tls-cluster-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let script = "echo enter $$ >> \"$0\"; sleep 0.05; echo leave $$ >> \"$0\""
            let runs = try (0..<5).map { _ in
                try RwlockCommandTests.Run(["write", name, "--url", try Self.url(), "--cacert", try Self.ca(), "--lease", "2s",
                                            "--timeout", "60s", "--restart-quarantine", "0", "--", "sh", "-c", script, log.path])
            }
            for run in runs {
                let result = try await run.finish()
                #expect(result.status == 0, "\(result.stderr)")
            }
            let lines = String(decoding: try Data(contentsOf: log), as: UTF8.self).split(separator: "\n")
            #expect(lines.count == 10)
            for pair in stride(from: 0, to: lines.count - 1, by: 2) {
                let enter = lines[pair].split(separator: " "), leave = lines[pair + 1].split(separator: " ")
                #expect(enter.first == "enter" && leave.first == "leave" && enter.last == leave.last, "\(lines)")
            }
        }
    }
}
