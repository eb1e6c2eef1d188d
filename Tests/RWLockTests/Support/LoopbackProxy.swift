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

    /// `redis://127.0.0.1:PORT` of the proxy.
    var url: String { "redis://127.0.0.1:\(port)" }

    /// From now on, drop every byte both ways; keep every socket open.
    func silence() { silenced.store(true, ordering: .sequentiallyConsistent) }

    /// From now on, hold every chunk of bytes this long before forwarding
    /// it, both ways: a slow link, for ordering a test's events against one
    /// connection's traffic.
    func delay(by latency: Duration) { delayMicroseconds.store(latency.wholeMicroseconds, ordering: .sequentiallyConsistent) }
    private let delayMicroseconds = Atomic<Int64>(0)

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
            for (from, to) in [(client, server), (server, client)] {
                Thread { [self] in pump(from: from, to: to) }.start()
            }
        }
    }

    private func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            if silenced.load(ordering: .sequentiallyConsistent) { continue }
            let delay = delayMicroseconds.load(ordering: .sequentiallyConsistent)
            if delay > 0 { usleep(UInt32(delay)) }
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

extension Duration {
    var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
