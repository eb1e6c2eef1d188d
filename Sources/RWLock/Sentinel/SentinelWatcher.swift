import Foundation

/// Listens on one sentinel at a time for `+switch-master` and tells the
/// router, so a failover is followed as soon as a sentinel announces it,
/// not only when a command meets the dead master.
///
/// A thread of its own (the connection blocks), subscribed to the first
/// sentinel that answers; when that sentinel goes, the next. Every sentinel
/// announces a switch, so one is enough; the router's own lookups on a
/// failed command remain the fallback when none is reachable.
final class SentinelWatcher: Sendable {
    private let router: SentinelRouter

    init(router: SentinelRouter) {
        self.router = router
    }

    func start() {
        router.configuration.threads.start(name: "RWLock.sentinel-watcher") { [self] in run() }
    }

    private func run() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let name = router.configuration.deployment.masterName
        var attempt = 0
        while !router.isShutdown {
            let sentinels = router.sentinelsInOrder
            let sentinel = sentinels[attempt % sentinels.count]
            attempt += 1
            do {
                let connection = try HiredisConnection(
                    endpoint: sentinel, connectTimeout: min(router.configuration.connectTimeout, .milliseconds(500)),
                    commandTimeout: router.configuration.commandTimeout)
                defer { connection.close() }
                try connection.sendWithoutReply([Array("SUBSCRIBE".utf8), Array("+switch-master".utf8)])
                while !router.isShutdown {
                    // Waking twice a second to see the client shut down.
                    guard let reply = try connection.nextPushedReply(waitingUpTo: .milliseconds(500), orUntilReadable: -1) else {
                        continue
                    }
                    if let node = Self.switched(reply, master: name) { router.masterSwitched(to: node) }
                }
            } catch {
                // The sentinel is gone or refused us: the next one, after a pause.
                usleep(500_000)
            }
        }
    }

    /// The new master from `message +switch-master "<name> <old ip> <old
    /// port> <new ip> <new port>"`, when it is about `master`.
    static func switched(_ reply: RESPValue, master: String) -> NodeAddress? {
        guard case .array(let fields) = reply, fields.count == 3, fields[0].string == "message",
            let payload = fields[2].string
        else { return nil }
        let words = payload.split(separator: " ")
        guard words.count == 5, words[0] == master, let port = Int(words[4]), (1...65535).contains(port) else { return nil }
        return NodeAddress(host: String(words[3]), port: port)
    }
}
