/// How a client speaks TLS to Redis: which servers it trusts, the name it
/// expects them to prove, and the certificate it shows itself.
///
/// TLS is on for `rediss://` and `rediss+cluster://` URLs; this says how.
/// The server is verified by default: its certificate chain against
/// ``caFile`` or ``caDirectory`` (or the system's trust store when neither
/// is given), and its name against the URL's host, or ``serverName``.
///
/// ```swift
/// var tls = TLSConfiguration(caFile: "/etc/redis/ca.crt")
/// tls.certificateFile = "/etc/rwlock/client.crt"   // mutual TLS
/// tls.keyFile = "/etc/rwlock/client.key"
/// let client = try RWLockClient(url: "rediss://redis.internal:6380", configuration: .init(tls: tls))
/// ```
///
/// A struct so that settings can be added without breaking callers. The
/// files are read when a connection is first made, and again for new
/// connections once any of them changed on disk (a rotated certificate).
public struct TLSConfiguration: Sendable, Hashable {
    /// A PEM file of the CA certificates to verify the server with (as
    /// `redis-cli --cacert`).
    public var caFile: String?
    /// A directory of CA certificates named by their hashes (`openssl
    /// rehash`), as `redis-cli --cacertdir`.
    public var caDirectory: String?
    /// The client's certificate chain, PEM, for servers that require one
    /// (`tls-auth-clients yes`).
    public var certificateFile: String?
    /// The client certificate's private key, PEM; nil when it is in
    /// ``certificateFile``.
    public var keyFile: String?
    /// The name the server's certificate must carry, also sent as SNI; nil
    /// for the host the client connects to (an IP address is then matched
    /// against the certificate's IP addresses, and no SNI is sent).
    public var serverName: String?
    /// Whether the server's certificate is verified at all (chain and
    /// name). `false` is for throwaway test servers only: anyone between
    /// the client and Redis can then read and change the lock's traffic.
    public var verifiesServer: Bool

    /// Settings with the server verified against the system's trust store
    /// unless a CA is given.
    public init(
        caFile: String? = nil, caDirectory: String? = nil, certificateFile: String? = nil, keyFile: String? = nil,
        serverName: String? = nil, verifiesServer: Bool = true
    ) {
        self.caFile = caFile
        self.caDirectory = caDirectory
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.serverName = serverName
        self.verifiesServer = verifiesServer
    }

    /// The files the settings name, for messages and to notice changes.
    var files: [String] { [caFile, caDirectory, certificateFile, keyFile].compactMap { $0 } }

    /// Rejects settings that cannot work, before any connection.
    ///
    /// - Throws: ``RWLockError`` `.invalidConfiguration`.
    func validate() throws {
        if keyFile != nil && certificateFile == nil {
            throw RWLockError.invalidConfiguration("a TLS client key was given without its certificate; give the certificate too")
        }
        if let serverName, serverName.isEmpty || serverName.utf8.count > 253 || serverName.contains(where: \.isWhitespace) {
            throw RWLockError.invalidConfiguration("the TLS server name \(serverName.debugDescription) is not a host name")
        }
        for file in files where file.isEmpty {
            throw RWLockError.invalidConfiguration("a TLS file setting is empty; give a path or leave it unset")
        }
    }
}
