/// One step of a schedule.
public enum Action: Hashable, Sendable {
    /// Client `client` runs `operation`; with `lostReply` the script runs on
    /// the server but the client never sees the reply.
    case call(client: Int, operation: LockOperation, lostReply: Bool)
    /// A waiting reader stops trying, without telling the server.
    case giveUp(client: Int)
    /// The client's process dies: it holds what it held until the leases run out.
    case crash(client: Int)
    /// Server time moves on (a pause of every client that does not act).
    case advance(milliseconds: Int64)
}

/// Where a client is, as it believes.
enum Phase: Hashable, Sendable {
    case idle, waiting, holdingRead, holdingWrite
}

/// A client's own view: its phase and the attempt number that names its
/// current token. Crashed clients take no further steps.
struct ClientState: Hashable, Sendable {
    var phase: Phase = .idle
    var attempt = 0
    var crashed = false

    func token(of client: Int) -> String { "c\(client).\(attempt)" }

    /// The calls this client can make from its phase.
    func operations(for role: ClientSpec.Role) -> [LockOperation] {
        switch (phase, role) {
        case (.idle, .reader), (.waiting, .reader): return [.acquireRead]
        case (.idle, .writer): return [.acquireWrite]
        case (.waiting, .writer): return [.acquireWrite, .withdraw]
        case (.holdingRead, _): return [.renew, .release]
        case (.holdingWrite, _): return [.renew, .release, .downgrade]
        }
    }
}
