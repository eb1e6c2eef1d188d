import CTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection's byte stream to Redis: TCP, a unix socket, or TLS over
/// TCP, every read and write bounded by an absolute deadline.
///
/// This is the only file that calls the CTransport module (sockets and
/// OpenSSL) or holds its pointers. ``HiredisConnection`` formats commands
/// and decodes replies with hiredis and moves the bytes through this.
///
/// Not thread-safe: used by one thread at a time, as its connection is.
final class Transport {
    private var connection: UnsafeMutablePointer<ctransport_connection>?
    /// Keeps the OpenSSL context alive as long as the connection made from it.
    private let tls: TLSContext?

    /// A failure of the stream: what happened, in the words of the system
    /// or of OpenSSL.
    struct Failure: Error {
        enum Reason {
            /// The deadline passed (or, for a look without waiting, nothing
            /// was there).
            case timedOut
            case closedByServer
            /// A system-level failure: refused, reset, unreachable.
            case system
            /// A TLS protocol failure, such as an alert from the server.
            case tls
            /// The server's certificate failed verification.
            case verification
            /// The TLS settings (a CA, certificate or key file) are unusable.
            case configuration
        }
        let reason: Reason
        let message: String
    }

    /// Connects to `endpoint`, completing the TLS handshake when it asks for
    /// TLS, before `deadline` (``deadline(after:)``).
    init(endpoint: RedisEndpoint, deadline: Int64) throws(Failure) {
        var status = CTRANSPORT_OK
        var message = [CChar](repeating: 0, count: 512)
        switch endpoint.address {
        case .tcp(let host, let port):
            if let configuration = endpoint.tls {
                tls = try TLSContext.shared(for: configuration)
            } else {
                tls = nil
            }
            let name = endpoint.tls?.serverName
            connection = message.withUnsafeMutableBufferPointer { buffer in
                ctransport_connect_tcp(host, Int32(port), tls?.pointer, name, deadline, &status, buffer.baseAddress, buffer.count)
            }
        case .unixSocket(let path):
            tls = nil
            connection = message.withUnsafeMutableBufferPointer { buffer in
                ctransport_connect_unix(path, deadline, &status, buffer.baseAddress, buffer.count)
            }
        }
        if connection == nil { throw Self.failure(status, message) }
    }

    deinit { close() }

    /// The instant `timeout` from now, on the clock every deadline here is
    /// measured on (CLOCK_MONOTONIC, in nanoseconds).
    static func deadline(after timeout: Duration) -> Int64 {
        let (seconds, attoseconds) = timeout.components
        return ctransport_now() + seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The socket, for poll(2).
    var descriptor: Int32 { connection.map { ctransport_descriptor($0) } ?? -1 }

    /// Whether TLS holds bytes already read from the socket, which poll(2)
    /// on it cannot see.
    var hasBufferedBytes: Bool { connection.map { ctransport_buffered($0) != 0 } ?? false }

    /// Writes all of `bytes` before `deadline`.
    func write(_ bytes: [UInt8], deadline: Int64) throws(Failure) {
        let connection = try open()
        var message = [CChar](repeating: 0, count: 512)
        let status = bytes.withUnsafeBytes { bytes in
            message.withUnsafeMutableBufferPointer { buffer in
                ctransport_write(connection, bytes.baseAddress, bytes.count, deadline, buffer.baseAddress, buffer.count)
            }
        }
        guard status == CTRANSPORT_OK else { throw Self.failure(status, message) }
    }

    /// Reads what arrived, waiting until `deadline` for at least one byte
    /// (a deadline already past looks once: ``Failure/Reason/timedOut`` then
    /// means nothing was there). Appends to `bytes`.
    func read(into bytes: inout [UInt8], deadline: Int64) throws(Failure) {
        let connection = try open()
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var message = [CChar](repeating: 0, count: 512)
        var count = 0
        let status = chunk.withUnsafeMutableBytes { chunk in
            message.withUnsafeMutableBufferPointer { buffer in
                ctransport_read(connection, chunk.baseAddress, chunk.count, &count, deadline, buffer.baseAddress, buffer.count)
            }
        }
        guard status == CTRANSPORT_OK else { throw Self.failure(status, message) }
        bytes.append(contentsOf: chunk[..<count])
    }

    /// Nil while an idle connection is usable; else why it is not (the
    /// server closed it, or sent what nobody asked for).
    func problemWhileIdle() -> String? {
        guard let connection else { return "it was closed" }
        var message = [CChar](repeating: 0, count: 512)
        let status = message.withUnsafeMutableBufferPointer { buffer in
            ctransport_check_idle(connection, buffer.baseAddress, buffer.count)
        }
        return status == CTRANSPORT_OK ? nil : text(of: message)
    }

    /// Closes the stream (a TLS close_notify first, unless it failed).
    /// Later calls fail.
    func close() {
        if let connection { ctransport_close(connection) }
        connection = nil
    }

    private func open() throws(Failure) -> UnsafeMutablePointer<ctransport_connection> {
        guard let connection else { throw Failure(reason: .closedByServer, message: "the connection was closed") }
        return connection
    }

    private static func failure(_ status: ctransport_status, _ message: [CChar]) -> Failure {
        let text = text(of: message)
        let reason: Failure.Reason =
            switch status {
            case CTRANSPORT_TIMEOUT: .timedOut
            case CTRANSPORT_CLOSED: .closedByServer
            case CTRANSPORT_TLS: .tls
            case CTRANSPORT_VERIFY: .verification
            case CTRANSPORT_CONFIG: .configuration
            default: .system
            }
        return Failure(reason: reason, message: text)
    }
}

/// A ``TLSConfiguration`` made usable: its OpenSSL context, with the CA,
/// certificate and key loaded once and shared by every connection that
/// uses the same settings.
///
/// `@unchecked Sendable`: the pointer is set once in `init` and freed only in
/// `deinit`, after the last connection made from it (each holds this object)
/// is gone; OpenSSL lets one configured `SSL_CTX` make connections on many
/// threads at once, guarding what they share itself.
final class TLSContext: @unchecked Sendable {
    fileprivate let pointer: UnsafeMutablePointer<ctransport_tls>
    /// When each file the settings name was last changed, as read before
    /// the context was made.
    private let fileStamps: [String: Int]

    private init(_ configuration: TLSConfiguration) throws(Transport.Failure) {
        fileStamps = Self.stamps(configuration.files)
        var message = [CChar](repeating: 0, count: 512)
        let made: UnsafeMutablePointer<ctransport_tls>? = message.withUnsafeMutableBufferPointer { buffer in
            withOptions(configuration) { options in ctransport_tls_new(options, buffer.baseAddress, buffer.count) }
        }
        guard let made else {
            throw Transport.Failure(reason: .configuration, message: text(of: message))
        }
        pointer = made
    }

    deinit { ctransport_tls_free(pointer) }

    private static let cache = Mutex<[TLSConfiguration: TLSContext]>([:])

    /// The context for `configuration`: the one made before, unless one of
    /// its files has changed since (then a new one, for new connections).
    static func shared(for configuration: TLSConfiguration) throws(Transport.Failure) -> TLSContext {
        if let cached = cache.withLock({ $0[configuration] }), cached.fileStamps == stamps(configuration.files) {
            return cached
        }
        let made = try TLSContext(configuration)
        cache.withLock { $0[configuration] = made }
        return made
    }

    /// Modification time and size of each file, to notice a replaced one.
    private static func stamps(_ files: [String]) -> [String: Int] {
        var stamps: [String: Int] = [:]
        for file in files {
            var info = stat()
            guard stat(file, &info) == 0 else { continue }
            #if canImport(Darwin)
            let changed = info.st_mtimespec
            #else
            let changed = info.st_mtim
            #endif
            stamps[file] = Int(changed.tv_sec) &* 1_000_000_007 &+ Int(changed.tv_nsec) &+ Int(info.st_size)
        }
        return stamps
    }
}

/// The NUL-terminated text C wrote into `buffer`.
private func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The C view of `configuration`, valid during `body`.
private func withOptions<Result>(_ configuration: TLSConfiguration, _ body: (UnsafePointer<ctransport_tls_options>) -> Result) -> Result {
    func withOptional(_ text: String?, _ body: (UnsafePointer<CChar>?) -> Result) -> Result {
        guard let text else { return body(nil) }
        return text.withCString(body)
    }
    return withOptional(configuration.caFile) { caFile in
        withOptional(configuration.caDirectory) { caDirectory in
            withOptional(configuration.certificateFile) { certificateFile in
                withOptional(configuration.keyFile) { keyFile in
                    var options = ctransport_tls_options(
                        ca_file: caFile, ca_directory: caDirectory, certificate_file: certificateFile, key_file: keyFile,
                        verify: configuration.verifiesServer ? 1 : 0)
                    return body(&options)
                }
            }
        }
    }
}
