import Foundation

/// A schedule that breaks an invariant, shrunk, ready to print.
public struct Counterexample: Hashable, Sendable {
    public var violation: Violation
    public var actions: [Action]
    public var steps: [StepRecord]
    /// The seed of the run that found it; `script-check --seed N` finds it again.
    public var seed: UInt64
    /// Which search or check found it: "exhaustive", "random", "probe",
    /// "foreign-state" or "least-privilege" (the last two with no steps).
    public var phase: String
    public var config: ExplorationConfig
}

/// Renders schedules and replies for people.
public enum Timeline {
    /// A reply in Lua-table style: `{1, 1000, 42}`, `"token"`, `ERR ...`.
    public static func describe(_ reply: RedisReply) -> String {
        switch reply {
        case .integer(let value): return String(value)
        case .bulk(let bytes): return "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .status(let text): return "+\(text)"
        case .error(let text): return "(error) \(text)"
        case .null, .nullArray: return "nil"
        case .array(let elements): return "{" + elements.map(describe).joined(separator: ", ") + "}"
        }
    }

    static func describe(_ action: Action, token: String?, config: ExplorationConfig) -> (String, String) {
        switch action {
        case .advance(let milliseconds): return ("-", "time passes \(milliseconds) ms")
        case .crash(let client): return (clientName(client, config), "crashes")
        case .giveUp(let client): return (clientName(client, config), "gives up waiting")
        case .call(let client, let operation, let lost):
            let text = "\(operation.rawValue)(\(token ?? "?"))" + (lost ? " [reply lost]" : "")
            return (clientName(client, config), text)
        }
    }

    static func clientName(_ client: Int, _ config: ExplorationConfig) -> String {
        let spec = config.clients[client]
        var name = "c\(client) \(spec.role.rawValue)"
        if spec.mode == "prefer-readers" { name += " (prefer-readers)" }
        if spec.capMs > 0 { name += " (cap \(spec.capMs) ms)" }
        return name
    }

    /// The counterexample as a table: step, server time, client, operation,
    /// reply, and what the oracle saw after the step.
    public static func render(_ example: Counterexample) -> String {
        var lines = ["\(example.violation)",
                     "found by the \(example.phase) search (seed \(example.seed)); \(example.steps.count) steps, lease \(example.config.leaseMs) ms, intent \(example.config.intentMs) ms:"]
        guard !example.steps.isEmpty else {
            let state = example.phase == "least-privilege" ? "a lock state the scripts built" : "a planted lock state"
            lines[1] = "found by the \(example.phase) check: one call on \(state), no schedule needed"
            return lines.joined(separator: "\n")
        }
        var rows = [["#", "time", "client", "operation", "reply", "oracle after the step"]]
        for (index, step) in example.steps.enumerated() {
            let (client, operation) = describe(step.action, token: step.token, config: example.config)
            rows.append(["\(index + 1)", "+\(step.elapsedMs)ms", client, operation,
                         step.reply.map(describe) ?? "", step.oracleView])
        }
        let widths = (0..<6).map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append("  " + row.enumerated().map { column, cell in
                column == 5 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }
}
