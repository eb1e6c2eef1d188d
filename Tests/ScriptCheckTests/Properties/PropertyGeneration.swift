import Foundation
@testable import ScriptCheck

/// Where every generated value of the property suites comes from: one run
/// seed, printed by every test, from which each test derives its own with
/// `SplitMix64.derive` (the fidelity suite's helper; same SplitMix64 as
/// ScriptCheck's, so a printed seed means the same thing to both).
///
/// `PROPERTY_SEED=<n or 0x..>` replays a run; otherwise each run draws a
/// fresh seed.
enum PropertySeed {
    static let run: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["PROPERTY_SEED"], let seed = UInt64(seedText: text) {
            return seed
        }
        return UInt64.random(in: 0...UInt64.max)
    }()

    /// How to reproduce, for every printed line and failure.
    static var replay: String { "PROPERTY_SEED=\(run.hex)" }
}

/// Generated lock scopes: who the clients are and how long leases last.
enum ScopeGenerator {
    /// A reader or writer client with a mixed mode and, sometimes, a hard cap
    /// somewhere between half a lease and three leases.
    static func client(_ role: ClientSpec.Role, leaseMs: Int64, capRange: ClosedRange<Int64>? = nil,
                       _ g: inout SplitMix64) -> ClientSpec {
        // acquire_write takes no mode; only readers' modes change behaviour.
        let mode = role == .reader && g.chance(0.35) ? "prefer-readers" : "prefer-writers"
        let caps = capRange ?? max(1, leaseMs / 2)...(3 * leaseMs)
        let cap = g.chance(0.3) ? Int64.random(in: caps, using: &g) : 0
        return ClientSpec(role, mode: mode, capMs: cap)
    }

    /// 1–`maxReaders` readers and 1–`maxWriters` writers, in a random order
    /// (client numbers decide token names and nothing else).
    static func clients(readers maxReaders: Int, writers maxWriters: Int, leaseMs: Int64,
                        capRange: ClosedRange<Int64>? = nil, _ g: inout SplitMix64) -> [ClientSpec] {
        let readers = g.int(1...maxReaders), writers = g.int(1...maxWriters)
        var clients = (0..<readers).map { _ in client(.reader, leaseMs: leaseMs, capRange: capRange, &g) }
            + (0..<writers).map { _ in client(.writer, leaseMs: leaseMs, capRange: capRange, &g) }
        clients.shuffle(using: &g)
        return clients
    }

    /// A scope for the mock explorer: leases of 100 ms to 5 s, intents of
    /// 100 ms to 6 s (shorter and longer than the lease), faults on or off,
    /// and the exhaustive search's time jumps and fault budget.
    static func exploration(readers: Int = 4, writers: Int = 4, depth: Int = 10, _ g: inout SplitMix64) -> ExplorationConfig {
        let lease = Int64(g.int(100...5000))
        let intent = Int64(g.int(100...6000))
        let clients = clients(readers: readers, writers: writers, leaseMs: lease, &g)
        // The first jump is always tried; the second when no deadline is
        // pending (otherwise the jump lands exactly on the next deadline).
        let advances = [Int64(g.int(1...Int(lease))), lease + Int64(g.int(1...Int(lease)))]
        return ExplorationConfig(clients: clients, leaseMs: lease, intentMs: intent, advances: advances,
                                 depth: depth, faults: g.chance(0.75),
                                 maxLostReplies: g.int(0...1), maxTimeJumps: g.int(1...3))
    }

    /// A scope for replay on a real server, where time cannot jump: leases,
    /// intents and caps of 20 s or more, so nothing expires during a replay
    /// that takes well under a second, and both sides decide alike.
    static func replay(_ g: inout SplitMix64) -> ExplorationConfig {
        let lease = Int64(g.int(20_000...60_000))
        let intent = Int64(g.int(20_000...60_000))
        let clients = clients(readers: 4, writers: 4, leaseMs: lease, capRange: 20_000...120_000, &g)
        return ExplorationConfig(clients: clients, leaseMs: lease, intentMs: intent, faults: g.chance(0.75))
    }

    static func describe(_ config: ExplorationConfig) -> String {
        let clients = config.clients.map { spec in
            var name = spec.role == .reader ? "R" : "W"
            if spec.mode == "prefer-readers" { name += "(prefer-readers)" }
            if spec.capMs > 0 { name += "(cap \(spec.capMs))" }
            return name
        }.joined(separator: " ")
        return "lease \(config.leaseMs) ms, intent \(config.intentMs) ms, clients [\(clients)], faults \(config.faults ? "on" : "off")"
    }
}
