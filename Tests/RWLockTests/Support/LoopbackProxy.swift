import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 in front of a Redis server, that a test can
/// *silence*: from then on every byte in either direction is read and
/// dropped, and no socket is closed. That is what a network partition looks
/// like to both ends (silence, not a reset): the client's commands go
/// unanswered until its own timeouts fire, and the server sees an idle
/// client.
final class LoopbackProxy: Sendable {
    /// The port clients connect to.
    let port: UInt16
    private let listener: Int32
    private let upstreamPort: UInt16
    private let silenced = Atomic<Bool>(false)
    private let sockets = Mutex<[Int32]>([])
    /// What clients sent through the proxy to the server and what it
    /// answered, parsed (see ``forwarded``).
    private let log = Mutex<[Exchange]>([])

    /// One command a client sent through the proxy, and the first line of
    /// the server's reply once it has passed back (`:1`, `*3`,
    /// `-NOSCRIPT No matching script…`).
    struct Exchange: Sendable {
        var words: [String]
        var reply: String?
        /// A reply array's elements: bulk strings and integers as text.
        var replyWords: [String] = []
    }

    /// Listens on a free loopback port and forwards to `upstreamPort` there.
    init(upstreamPort: UInt16) throws {
        self.upstreamPort = upstreamPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// `redis://127.0.0.1:PORT` of the proxy; `rediss://` when the suite's
    /// server (REDIS_URL) speaks TLS, since the proxy passes the bytes on
    /// as they are.
    var url: String { "\(LiveEnvironment.redisURL?.lowercased().hasPrefix("rediss://") == true ? "rediss" : "redis")://127.0.0.1:\(port)" }

    /// From now on, drop every byte both ways; keep every socket open.
    func silence() { silenced.store(true, ordering: .sequentiallyConsistent) }

    /// From now on, hold every chunk of bytes this long before forwarding
    /// it, both ways: a slow link, for ordering a test's events against one
    /// connection's traffic.
    func delay(by latency: Duration) { delayMicroseconds.store(latency.wholeMicroseconds, ordering: .sequentiallyConsistent) }
    private let delayMicroseconds = Atomic<Int64>(0)

    /// Every command a client sent through this proxy that reached the
    /// server, as words (`["EVALSHA", sha, "7", key, …]`), in the order
    /// forwarded: what the server was asked, not what a client says it sent.
    var forwarded: [Exchange] { log.withLock { $0 } }

    /// Delays only the server's replies from now on (the requests go at
    /// once): a reply that comes back late, as over a congested link.
    func delayReplies(by latency: Duration) { replyDelayMicroseconds.store(latency.wholeMicroseconds, ordering: .sequentiallyConsistent) }
    private let replyDelayMicroseconds = Atomic<Int64>(0)

    /// Stops accepting and ends every forwarded connection. Descriptors are
    /// shut down here but closed only by the threads using them, so no
    /// thread can ever read or accept on a number the process reused.
    func close() {
        closed.store(true, ordering: .sequentiallyConsistent)
        shutdown(listener, Int32(SHUT_RDWR))
        for descriptor in sockets.withLock({ $0 }) { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }
    private let closed = Atomic<Bool>(false)

    deinit { close() }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0, !closed.load(ordering: .sequentiallyConsistent) else {
                if client >= 0 { Glibc.close(client) }
                Glibc.close(listener)
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: upstreamPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                Glibc.close(client)
                Glibc.close(server)
                continue
            }
            sockets.withLock { $0 += [client, server] }
            let connection = Connection()
            Thread { [self] in pump(from: client, to: server, request: true, connection: connection) }.start()
            Thread { [self] in pump(from: server, to: client, request: false, connection: connection) }.start()
        }
    }

    private func record(_ values: [RESPParser.Value], request: Bool, connection: Connection) {
        log.withLock { log in
            connection.unanswered.withLock { unanswered in
                for value in values {
                    if request {
                        unanswered.append(log.count)
                        log.append(Exchange(words: value.words))
                    } else if !unanswered.isEmpty {
                        let exchange = unanswered.removeFirst()
                        log[exchange].reply = value.firstLine
                        log[exchange].replyWords = value.words
                    }
                }
            }
        }
    }

    /// A forwarded connection's exchanges still waiting for their replies
    /// (the log's indices), oldest first: the server answers in order.
    private final class Connection: Sendable {
        let unanswered = Mutex<[Int]>([])
    }

    private func pump(from: Int32, to: Int32, request: Bool, connection: Connection) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var parser = RESPParser()
        while true {
            let count = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            if silenced.load(ordering: .sequentiallyConsistent) { continue }
            var delay = delayMicroseconds.load(ordering: .sequentiallyConsistent)
            if !request { delay += replyDelayMicroseconds.load(ordering: .sequentiallyConsistent) }
            if delay > 0 { usleep(UInt32(delay)) }
            // Logged before it is forwarded: a reply can then never come
            // back before its command is in the log.
            let values = parser.feed(buffer[..<count])
            if !values.isEmpty { record(values, request: request, connection: connection) }
            let written = buffer.withUnsafeBytes { send(to, $0.baseAddress, count, Int32(MSG_NOSIGNAL)) }
            guard written == count else { break }
        }

        // One side closed (not a silenced one: silence never closes), or the
        // proxy was closed. The pump reading `to` stops too; the second pump
        // to finish closes both.
        shutdown(to, Int32(SHUT_RDWR))
        shutdown(from, Int32(SHUT_RDWR))
        let last = finishedPumps.withLock { finished in
            finished.formSymmetricDifference([Set([from, to])])
            return !finished.contains(Set([from, to]))
        }
        if last {
            sockets.withLock { $0.removeAll { $0 == from || $0 == to } }
            Glibc.close(from)
            Glibc.close(to)
        }
    }
    /// Connections (as their two descriptors) with one pump finished.
    private let finishedPumps = Mutex<Set<Set<Int32>>>([])
}

/// Splits a RESP byte stream into whole values: a client's commands (arrays
/// of bulk strings, as hiredis formats every command) or a server's
/// replies, of which the first line is kept.
private struct RESPParser {
    struct Value {
        var firstLine: String
        /// An array's elements (a command's words): bulk strings and
        /// integers as text, anything else as its first line.
        var words: [String]
    }
    private var pending: [UInt8] = []

    mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Value] {
        pending += bytes
        var values: [Value] = []
        while true {
            var index = 0
            guard let value = Self.value(in: pending, at: &index) else { break }
            values.append(value)
            pending.removeFirst(index)
        }
        return values
    }

    /// The whole value at `index` (moved past it), or nil if incomplete.
    private static func value(in bytes: [UInt8], at index: inout Int) -> Value? {
        guard let first = line(in: bytes, at: &index), let type = first.first else { return nil }
        let number = Int(first.dropFirst()) ?? 0
        switch type {
        case "$":
            guard number >= 0 else { return Value(firstLine: first, words: []) }
            guard index + number + 2 <= bytes.count else { return nil }
            let text = String(decoding: bytes[index..<index + number], as: UTF8.self)
            index += number + 2
            return Value(firstLine: first, words: [text])
        case "*":
            var words: [String] = []
            for _ in 0..<max(number, 0) {
                guard let element = value(in: bytes, at: &index) else { return nil }
                switch element.firstLine.first {
                case "$": words.append(element.words.first ?? "")
                case ":": words.append(String(element.firstLine.dropFirst()))
                default: words.append(element.firstLine)
                }
            }
            return Value(firstLine: first, words: words)
        default:
            return Value(firstLine: first, words: [])
        }
    }

    private static func line(in bytes: [UInt8], at index: inout Int) -> String? {
        guard index < bytes.count, let end = bytes[index...].firstIndex(of: UInt8(ascii: "\r")), end + 1 < bytes.count else {
            return nil
        }
        let text = String(decoding: bytes[index..<end], as: UTF8.self)
        index = end + 2
        return text
    }
}

extension Duration {
    var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
