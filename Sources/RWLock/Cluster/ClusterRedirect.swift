/// What a cluster node's error reply asks the client to do instead of
/// answering: go elsewhere, or come back later.
///
/// Only these four error prefixes are cluster routing; every other error
/// reply is the command's own answer and is passed through.
enum ClusterRedirect: Equatable, Sendable {
    /// `MOVED <slot> <host>:<port>`: the slot lives on another node from now
    /// on; update the slot map and resend there.
    case moved(HashSlot, NodeAddress)
    /// `ASK <slot> <host>:<port>`: the slot is being migrated and this key
    /// has moved already; resend there once, preceded by ASKING, without
    /// touching the slot map.
    case ask(HashSlot, NodeAddress)
    /// `TRYAGAIN …`: a multi-key command met a slot half migrated; the same
    /// command will work once the migration of those keys is done.
    case tryAgain
    /// `CLUSTERDOWN …`: the cluster cannot serve the slot now (a master
    /// failed and no replica has taken over yet).
    case clusterDown

    /// The redirect an error reply carries, or nil for an ordinary error.
    /// A target without a host (`MOVED 3999 :7001`: the node does not know
    /// its own address) is on `askedHost`, the host that answered.
    init?(errorReply message: String, askedHost: String? = nil) {
        let words = message.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first else { return nil }
        switch first {
        case "MOVED", "ASK":
            guard words.count == 3, let number = Int(words[1]), let slot = HashSlot(number: number) else { return nil }
            var target = words[2]
            if target.hasPrefix(":"), let askedHost { target = Substring(askedHost) + target }
            guard let node = NodeAddress(hostPort: target) else { return nil }
            self = first == "MOVED" ? .moved(slot, node) : .ask(slot, node)
        case "TRYAGAIN":
            self = .tryAgain
        case "CLUSTERDOWN":
            self = .clusterDown
        default:
            return nil
        }
    }

    /// The redirect in a reply from `node`, if it is an error reply
    /// carrying one.
    init?(reply: RESPValue, from node: NodeAddress? = nil) {
        guard case .error(let message) = reply else { return nil }
        self.init(errorReply: message, askedHost: node?.host)
    }
}

/// A cluster node's TCP address as the cluster names it (`CLUSTER SLOTS`,
/// `MOVED`): host (IPv4, IPv6 without brackets, or a name) and port.
struct NodeAddress: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, splitting at the last ':' so IPv6 hosts work
    /// (`::1:7000`, and the bracketed `[::1]:7000`).
    init?(hostPort: Substring) {
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]),
            (1...65535).contains(port)
        else { return nil }
        var host = hostPort[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
