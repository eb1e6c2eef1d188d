/// What a client of the lock is, in an explored schedule.
public struct ClientSpec: Hashable, Sendable {
    public enum Role: String, Hashable, Sendable { case reader, writer }

    public var role: Role
    /// `prefer-writers` (intent blocks new readers) or `prefer-readers`.
    public var mode: String
    /// Hard cap on total hold time in ms, 0 for none.
    public var capMs: Int64

    public init(_ role: Role, mode: String = "prefer-writers", capMs: Int64 = 0) {
        self.role = role
        self.mode = mode
        self.capMs = capMs
    }
}

/// The scope of one exploration: who the clients are, lease lengths, how
/// deep and how long to search.
public struct ExplorationConfig: Hashable, Sendable {
    public var clients: [ClientSpec]
    public var leaseMs: Int64
    public var intentMs: Int64
    /// Time jumps the exhaustive search tries between steps, in ms.
    public var advances: [Int64]
    /// Schedule depth of the exhaustive search.
    public var depth: Int
    /// Whether schedules may crash clients and lose replies.
    public var faults: Bool
    /// Fault budget of one exhaustive schedule: lost replies and time jumps.
    /// Bounding faults per schedule (as model checkers bound failures) is
    /// what makes depth 10 searchable; random schedules have no budget.
    public var maxLostReplies: Int
    public var maxTimeJumps: Int

    public init(clients: [ClientSpec], leaseMs: Int64 = 1000, intentMs: Int64 = 1500,
                advances: [Int64]? = nil, depth: Int = 10, faults: Bool = true,
                maxLostReplies: Int = 0, maxTimeJumps: Int = 2) {
        self.clients = clients
        self.leaseMs = leaseMs
        self.intentMs = intentMs
        self.advances = advances ?? [leaseMs / 2, leaseMs + 1]
        self.depth = depth
        self.faults = faults
        self.maxLostReplies = maxLostReplies
        self.maxTimeJumps = maxTimeJumps
    }

    /// The small scope the default run searches exhaustively: two readers
    /// and two writers, one reader preferring readers and a reader (with a cap
    /// shorter than a lease) and a writer with hard caps, so both modes and
    /// both kinds of cap are in every search.
    public static let exhaustiveDefault = ExplorationConfig(clients: [
        ClientSpec(.reader, capMs: 700), ClientSpec(.reader, mode: "prefer-readers"),
        ClientSpec(.writer), ClientSpec(.writer, capMs: 1500),
    ])

    /// The wider scope random schedules run in: two readers with caps of
    /// different lengths, so the caps set holds several entries in turn.
    public static let randomDefault = ExplorationConfig(clients: [
        ClientSpec(.reader, capMs: 1800), ClientSpec(.reader, capMs: 2500), ClientSpec(.reader, mode: "prefer-readers"),
        ClientSpec(.writer), ClientSpec(.writer), ClientSpec(.writer, capMs: 2500),
    ])

    /// The longest any lease, intent or cap record can outlive its holder.
    var longestLeaseMs: Int64 { max(leaseMs, intentMs, clients.map(\.capMs).max() ?? 0) }
}
