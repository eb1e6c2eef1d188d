/// Which node serves each hash slot, as a `CLUSTER SLOTS` reply describes
/// the cluster: masters only, since every lock operation writes.
struct SlotMap: Sendable, Equatable {
    /// The masters, in the order they first appear in the reply.
    private(set) var masters: [NodeAddress]
    /// Every node the reply named, masters first, then replicas: the
    /// subscriber may listen on any of them, and any may answer the next
    /// `CLUSTER SLOTS`.
    private(set) var nodes: [NodeAddress]
    /// Index into `masters` per slot; -1 where no node serves the slot.
    private var owner: [Int16]

    /// A map where no slot is served.
    init() {
        masters = []
        nodes = []
        owner = Array(repeating: -1, count: HashSlot.count)
    }

    /// The master serving `slot`, if any.
    subscript(slot: HashSlot) -> NodeAddress? {
        let index = owner[slot.number]
        return index < 0 ? nil : masters[Int(index)]
    }

    /// How many slots some master serves (16384 in a healthy cluster).
    var coveredSlots: Int { owner.lazy.filter { $0 >= 0 }.count }

    /// Records that `slot` is served by `node` (after a MOVED).
    mutating func assign(_ slot: HashSlot, to node: NodeAddress) {
        owner[slot.number] = Int16(index(ofMaster: node))
    }

    private mutating func index(ofMaster node: NodeAddress) -> Int {
        if let index = masters.firstIndex(of: node) { return index }
        masters.append(node)
        if !nodes.contains(node) { nodes.append(node) }
        return masters.count - 1
    }

    /// Parses a `CLUSTER SLOTS` reply: an array of
    /// `[start, end, [host, port, id, …], [replica host, port, id, …]…]`.
    ///
    /// A node whose host is empty or `?` (it does not know its own address)
    /// is reached at `askedHost`, the host the reply came from, as Redis's
    /// documentation asks clients to do.
    ///
    /// - Throws: ``RWLockError`` `.protocolError` naming what is malformed.
    init(clusterSlots reply: RESPValue, askedHost: String) throws {
        self.init()
        guard case .array(let ranges) = reply else {
            throw RWLockError.protocolError("CLUSTER SLOTS answered \(reply), not an array of slot ranges")
        }
        var replicas: [NodeAddress] = []
        for range in ranges {
            guard case .array(let fields) = range, fields.count >= 3,
                case .integer(let start) = fields[0], case .integer(let end) = fields[1],
                let first = HashSlot(number: Int(start)), let last = HashSlot(number: Int(end)),
                first.number <= last.number
            else {
                throw RWLockError.protocolError("CLUSTER SLOTS has a malformed slot range: \(range)")
            }
            let master = try Self.node(fields[2], askedHost: askedHost)
            let index = Int16(index(ofMaster: master))
            for number in first.number...last.number { owner[number] = index }
            for field in fields.dropFirst(3) {
                replicas.append(try Self.node(field, askedHost: askedHost))
            }
        }
        for replica in replicas where !nodes.contains(replica) { nodes.append(replica) }
    }

    /// One `[host, port, id, …]` entry of a CLUSTER SLOTS range.
    static func node(_ value: RESPValue, askedHost: String) throws -> NodeAddress {
        guard case .array(let fields) = value, fields.count >= 2, case .integer(let port) = fields[1],
            (1...65535).contains(port)
        else {
            throw RWLockError.protocolError("CLUSTER SLOTS has a malformed node: \(value)")
        }
        let host = fields[0].string ?? ""
        return NodeAddress(host: host.isEmpty || host == "?" ? askedHost : host, port: Int(port))
    }
}
