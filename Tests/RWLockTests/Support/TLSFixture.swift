import Foundation

@testable import RWLock

/// Certificates and TLS servers of the tests' own: `scripts/make-test-pki.sh`
/// makes a CA, server certificates for 127.0.0.1 and for redis.example, a
/// client certificate, and a CA that signed none of them.
enum TLSFixture {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The directory of the test PKI, made once per test process.
    static let pki: Result<URL, any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-pki-\(getpid())")
        let process = Process()
        process.executableURL = packageRoot.appendingPathComponent("scripts/make-test-pki.sh")
        process.arguments = [directory.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LiveEnvironment.Missing(description: "scripts/make-test-pki.sh failed (status \(process.terminationStatus)): is openssl installed?")
        }
        return directory
    }

    static func file(_ name: String) throws -> String { try pki.get().appendingPathComponent(name).path }

    /// A free TCP port on 127.0.0.1 (bound and released: a test's server takes
    /// it right after).
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A private redis-server that speaks TLS only on `port` (its unix
    /// socket stays plain, for the test's own admin commands), presenting
    /// `certificate` (`server-ip` or `server-dns`) and asking clients for a
    /// certificate as `authClients` says (`no`, `yes`, `optional`).
    static func server(certificate: String = "server-ip", authClients: String = "no") async throws -> (PrivateServer, Int) {
        let port = try freePort()
        let server = try PrivateServer([
            "--tls-port", String(port), "--tls-cert-file", try file("\(certificate).crt"),
            "--tls-key-file", try file("\(certificate).key"), "--tls-ca-cert-file", try file("ca.crt"),
            "--tls-auth-clients", authClients,
        ])
        try await server.start()
        return (server, port)
    }

    /// Settings trusting the test CA.
    static func trusting(_ ca: String = "ca.crt") throws -> TLSConfiguration {
        TLSConfiguration(caFile: try file(ca))
    }
}
