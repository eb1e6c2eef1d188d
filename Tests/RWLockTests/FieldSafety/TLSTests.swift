import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// TLS against real servers the tests start (`redis-server --tls-port`)
    /// with certificates the tests make: what verifies, what does not and
    /// says which check failed, mutual TLS, and the R2 partition through a
    /// TLS connection.
    @Suite(.enabled(if: LiveEnvironment.runs(PrivateServer.path != nil)), .timeLimit(.minutes(3)))
    struct TLSTests {
        typealias Run = RwlockCommandTests.Run

        func client(port: Int, _ tls: TLSConfiguration, connectTimeout: Duration = .seconds(2)) throws -> RWLockClient {
            try RWLockClient(deployment: .server(RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port), tls: tls)), configuration: .init(maxConnections: 2, connectTimeout: connectTimeout))
        }

        /// Fresh servers: the quarantine is another test's subject.
        func lock(_ client: RWLockClient, _ name: String = "tls") throws -> RWLock {
            try RWLock(name: name, client: client, options: .init(restartQuarantine: .disabled))
        }

        @Test func aVerifiedServerLocksAndItsIdleConnectionsAreKept() async throws {
            let (server, port) = try await TLSFixture.server()
            let client = try client(port: port, try TLSFixture.trusting())
            defer { client.close(); withExtendedLifetime(server) {} }
            let lock = try lock(client)
            let fence = try await lock.withWriteLock(timeout: .seconds(2)) { fence in fence }
            #expect(fence.value > 0)
            #expect(try await lock.withReadLock(timeout: .seconds(2)) { true })
            // A TLS 1.3 connection is readable while idle (the server's session
            // tickets): that must not pass for a closed one and cost a new
            // connection per command.
            let opened = client.pool.statistics.connectionsOpened
            for _ in 0..<5 {
                try await Task.sleep(for: .milliseconds(20))
                _ = try await lock.inspect()
            }
            #expect(client.pool.statistics.connectionsOpened == opened, "idle TLS connections were discarded")
        }

        /// Each failed check is a `.tls` error that says which check, and
        /// nothing hangs.
        @Test(arguments: [
            ("server-ip", "other-ca.crt", "self-signed certificate in certificate chain"),
            // The server sends its CA along: it is not among the system's.
            ("server-ip", nil, "self-signed certificate in certificate chain"),
            ("server-dns", "ca.crt", "IP address mismatch"),
        ] as [(String, String?, String)])
        func aServerThatFailsVerificationIsRefusedSayingWhy(certificate: String, ca: String?, reason: String) async throws {
            let (server, port) = try await TLSFixture.server(certificate: certificate)
            let tls = try ca.map { try TLSFixture.trusting($0) } ?? TLSConfiguration()
            let client = try client(port: port, tls)
            defer { client.close(); withExtendedLifetime(server) {} }
            let started = ContinuousClock.now
            let error = await #expect(throws: RWLockError.self) { try await lock(client).withWriteLock(timeout: .seconds(1)) { _ in } }
            #expect(error?.kind == .tls, "\(String(describing: error))")
            let text = error.map(String.init(describing:)) ?? ""
            #expect(text.contains(reason) && text.contains("failed verification"), "\(text)")
            #expect(text.contains(ca == "ca.crt" ? "--sni" : "--cacert"), "\(text)")
            #expect(ContinuousClock.now - started < .seconds(2), "a verification failure took \(ContinuousClock.now - started)")
        }

        /// The name the certificate carries, given as the server name (SNI),
        /// verifies; no verification at all accepts any certificate.
        @Test func theServerNameAndTheInsecureOptOutConnect() async throws {
            let (server, port) = try await TLSFixture.server(certificate: "server-dns")
            var named = try TLSFixture.trusting()
            named.serverName = "redis.example"
            let insecure = TLSConfiguration(caFile: try TLSFixture.file("other-ca.crt"), verifiesServer: false)
            for tls in [named, insecure] {
                let client = try client(port: port, tls)
                defer { client.close() }
                #expect(try await lock(client).withWriteLock(timeout: .seconds(2)) { _ in true })
            }
            var wrongName = named
            wrongName.serverName = "other.example"
            let client = try client(port: port, wrongName)
            defer { client.close(); withExtendedLifetime(server) {} }
            let error = await #expect(throws: RWLockError.self) { try await lock(client).withWriteLock(timeout: .seconds(1)) { _ in } }
            #expect(error.map(String.init(describing:))?.contains("hostname mismatch") == true, "\(String(describing: error))")
        }

        @Test func mutualTLSIsRequiredAndGiven() async throws {
            let (server, port) = try await TLSFixture.server(authClients: "yes")
            defer { withExtendedLifetime(server) {} }
            let without = try client(port: port, try TLSFixture.trusting())
            defer { without.close() }
            let error = await #expect(throws: RWLockError.self) { try await lock(without).withWriteLock(timeout: .seconds(1)) { _ in } }
            #expect(error?.kind == .tls, "\(String(describing: error))")
            #expect(error.map(String.init(describing:))?.contains("client certificate") == true, "\(String(describing: error))")

            var withCertificate = try TLSFixture.trusting()
            withCertificate.certificateFile = try TLSFixture.file("client.crt")
            withCertificate.keyFile = try TLSFixture.file("client.key")
            let with = try client(port: port, withCertificate)
            defer { with.close() }
            #expect(try await lock(with).withWriteLock(timeout: .seconds(2)) { _ in true })
        }

        /// Plaintext to a TLS port fails at once (the server resets it); TLS
        /// to a plaintext port (the server waits for a line that never
        /// comes) fails at the connect timeout, saying the port may not be
        /// TLS. Neither hangs.
        @Test func theWrongProtocolFailsFastAndSaysSo() async throws {
            let (server, port) = try await TLSFixture.server()
            defer { withExtendedLifetime(server) {} }
            let plain = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port)), configuration: .init(maxConnections: 1))
            defer { plain.close() }
            var started = ContinuousClock.now
            let plainError = await #expect(throws: RWLockError.self) { _ = try await plain.send(["PING"]) }
            #expect(ContinuousClock.now - started < .milliseconds(500), "plaintext to a TLS port took \(ContinuousClock.now - started)")
            #expect(plainError?.kind == .connection)
            #expect(plainError.map(String.init(describing:))?.contains("rediss://") == true, "\(String(describing: plainError))")

            let plainPort = try TLSFixture.freePort()
            let plainServer = try PrivateServer(["--port", String(plainPort)])
            try await plainServer.start()
            let tls = try client(port: plainPort, try TLSFixture.trusting(), connectTimeout: .milliseconds(500))
            defer { tls.close(); withExtendedLifetime(plainServer) {} }
            started = ContinuousClock.now
            let tlsError = await #expect(throws: RWLockError.self) { _ = try await tls.send(["PING"]) }
            let took = ContinuousClock.now - started
            #expect(took >= .milliseconds(450) && took < .milliseconds(1500), "TLS to a plaintext port took \(took)")
            #expect(tlsError?.kind == .tls)
            #expect(tlsError.map(String.init(describing:))?.contains("TLS port") == true, "\(String(describing: tlsError))")
        }

        /// rwlock's redis-cli-named options, and its exit codes: verified 0,
        /// a failed check 69, TLS options on a plain URL 64.
        @Test func rwlockTakesTheTLSOptionsOfRedisCli() async throws {
            let (server, port) = try await TLSFixture.server(certificate: "server-dns", authClients: "optional")
            defer { withExtendedLifetime(server) {} }
            let url = "rediss://127.0.0.1:\(port)"
            let common = ["--url", url, "--restart-quarantine", "0"]
            let pki = try TLSFixture.pki.get().path
            let cases: [([String], Int32)] = [
                (["--cacert", "\(pki)/ca.crt", "--sni", "redis.example"], 0),
                (["--cacertdir", "\(pki)/cadir", "--sni", "redis.example"], 0),
                (["--cacert", "\(pki)/ca.crt", "--sni", "redis.example", "--cert", "\(pki)/client.crt", "--key", "\(pki)/client.key"], 0),
                (["--insecure"], 0),
                (["--cacert", "\(pki)/ca.crt"], 69),
                (["--cacert", "\(pki)/other-ca.crt", "--sni", "redis.example"], 69),
                (["--cacert", "\(pki)/no-such.crt"], 64),
                (["--key", "\(pki)/client.key"], 64),
            ]
            for (options, status) in cases {
                let result = try await Run(["write", "tls-cli-\(UUID().uuidString.prefix(8))"] + common + options + ["--", "true"]).finish()
                #expect(result.status == status, "\(options): \(result.stderr)")
            }
            let plain = try await Run(["write", "tls-cli", "--url", "redis://127.0.0.1:\(port)", "--cacert", "\(pki)/ca.crt", "--", "true"]).finish()
            #expect(plain.status == 64 && plain.stderr.contains("rediss://"), "\(plain.stderr)")
        }

        /// R2 through TLS: a holder whose TLS connection is silenced (a
        /// partition, bytes dropped, sockets open) has its whole job dead
        /// before a second writer is granted, exactly as over TCP.
        @Test func aPartitionedHolderOverTLSIsDeadBeforeAnotherWriterGetsIn() async throws {
            let (server, port) = try await TLSFixture.server()
            defer { withExtendedLifetime(server) {} }
            let proxy = try LoopbackProxy(upstreamPort: UInt16(port))
            defer { proxy.close() }
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let (work, workerPid, terminated, second) = (
                files.appendingPathComponent("work").path, files.appendingPathComponent("worker.pid").path,
                files.appendingPathComponent("term").path, files.appendingPathComponent("second").path)
            let ca = try TLSFixture.file("ca.crt")
            let holder = try Run(["write", "tls-partition", "--lease", "1s", "--url", "rediss://127.0.0.1:\(proxy.port)",
                                  "--cacert", ca, "--restart-quarantine", "0", "--"] + slowToStopJob + [work, workerPid, terminated])
            #expect(await ProcessProbe.eventually { !ProcessProbe.timestamps(in: work).isEmpty }, "the job never worked")
            // The worker starts before its shell writes its pid: wait for both.
            #expect(await ProcessProbe.eventually { ProcessProbe.pid(in: workerPid) != nil })
            let worker = try #require(ProcessProbe.pid(in: workerPid))
            proxy.silence()
            let secondResult = try await Run(["write", "tls-partition", "--lease", "1s", "--timeout", "30s",
                                              "--url", "rediss://127.0.0.1:\(port)", "--cacert", ca, "--restart-quarantine", "0",
                                              "--", "sh", "-c", "date +%s%N > \"$1\"", "second", second]).finish()
            let holderResult = try await holder.finish()
            #expect(secondResult.status == 0, "\(secondResult.stderr)")
            #expect(holderResult.status == 70, "\(holderResult.stderr)")
            #expect(!ProcessProbe.isRunning(worker))
            let lastWork = try #require(ProcessProbe.timestamps(in: work).max())
            let granted = try #require(ProcessProbe.timestamps(in: second).first)
            print("partition over TLS, lease 1s: the job's last work \((granted - lastWork) / 1_000_000) ms before the second grant")
            #expect(lastWork < granted, "the first job worked after the second writer was granted")
        }
    }
}
