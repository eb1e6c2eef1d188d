/// An invariant of the contract (S1–S7, the RWLock DocC article "The Contract") that a schedule broke.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    /// `S1` … `S7`, `CAP` for the hard cap on hold time, `FIFO` for the
    /// order waiting writers are served in, `R6` for a script that fails
    /// after its first write when its Redis user lacks a permission.
    public var invariant: String
    public var message: String

    public var description: String { "\(invariant) \(Violation.titles[invariant] ?? ""): \(message)" }

    static let titles = [
        "S1": "(one writer)", "S2": "(readers exclude writers)", "S3": "(writer preference)",
        "S4": "(only the holder)", "S5": "(no leak)", "S6": "(fencing)", "S7": "(script hygiene)",
        "CAP": "(hard cap on hold time)", "FIFO": "(waiting writers served first come, first served)",
        "BOUND": "(bounded state: no stale entry outlives the lock's next touch)",
        "R6": "(least privilege: a missing permission is refused before any change)",
    ]
}

/// Who holds what, learned only from the scripts' replies (including replies
/// the client lost: the server granted them all the same). The invariants
/// are checked against this record, never against the scripts' own keys.
struct Oracle: Hashable, Sendable {
    struct Lease: Hashable, Sendable {
        var write: Bool
        var expiresMs: Int64
        var capMs: Int64?
        var fence: Int64
    }

    var leases: [String: Lease] = [:]
    /// Waiting writers' intents: token → when the intent ends.
    var intents: [String: Int64] = [:]
    /// When each intent was registered (server µs): writers are served in
    /// this order, ties broken by token, as the queue's sorted set orders them.
    var arrivals: [String: Int64] = [:]
    var lastFence: Int64 = 0
    /// How well the caller knows the script's clock, in µs: 0 on the mock
    /// (exact). Replaying on a real server only brackets it to the
    /// millisecond, so fences are checked within that window and queue
    /// positions, which hinge on microseconds, are not checked.
    var clockResolutionMicros: Int64 = 0

    func live(_ token: String, at now: Int64) -> Lease? {
        guard let lease = leases[token], lease.expiresMs > now else { return nil }
        return lease
    }

    func liveWriters(at now: Int64) -> [String] { leases.filter { $0.value.write && $0.value.expiresMs > now }.map(\.key).sorted() }
    func liveReaders(at now: Int64) -> [String] { leases.filter { !$0.value.write && $0.value.expiresMs > now }.map(\.key).sorted() }
    func liveIntents(at now: Int64) -> [String] { intents.filter { $0.value > now }.map(\.key).sorted() }

    /// Forgets what has expired, so equal situations hash equal.
    mutating func forgetExpired(at now: Int64) {
        // Checked first: filtering always builds new tables, and most states
        // have nothing to forget (arrivals are kept only beside intents).
        guard leases.values.contains(where: { $0.expiresMs <= now }) || intents.values.contains(where: { $0 <= now }) else { return }
        leases = leases.filter { $0.value.expiresMs > now }
        intents = intents.filter { $0.value > now }
        arrivals = arrivals.filter { intents[$0.key] != nil }
    }

    /// Live intents in the order the writers will be served.
    func queue(at now: Int64) -> [String] {
        liveIntents(at: now).sorted { (arrivals[$0] ?? 0, $0) < (arrivals[$1] ?? 0, $1) }
    }

    /// A refused reader is told when the writer's lease ends, or else (when
    /// preferring writers) when the first waiting writer's intent does.
    func readWaitHint(at now: Int64, mode: String) -> Int64? {
        if let writer = liveWriters(at: now).first { return leases[writer]!.expiresMs - now }
        if mode == "prefer-writers", let first = liveIntents(at: now).map({ intents[$0]! }).min() { return first - now }
        return nil
    }

    /// A refused writer is told when the writer's lease, or else the last
    /// reader's, ends; 1 ms when only earlier writers are ahead of it.
    func writeWaitHint(at now: Int64) -> Int64 {
        if let writer = liveWriters(at: now).first { return leases[writer]!.expiresMs - now }
        if let last = liveReaders(at: now).map({ leases[$0]!.expiresMs }).max() { return last - now }
        return 1
    }

    /// What a grant of `lease` ms with hard cap `capMs` (0: none) reports.
    static func grantedMs(_ config: ExplorationConfig, capMs: Int64) -> Int64 {
        capMs > 0 ? min(config.leaseMs, capMs) : config.leaseMs
    }

    /// S1 and S2 at instant `now`.
    func checkExclusion(at now: Int64) -> Violation? {
        let writers = liveWriters(at: now)
        if writers.count > 1 {
            return Violation(invariant: "S1", message: "two write leases are live at once: \(writers.joined(separator: ", "))")
        }
        let readers = liveReaders(at: now)
        if let writer = writers.first, !readers.isEmpty {
            return Violation(invariant: "S2", message: "write lease \(writer) is live together with read lease(s) \(readers.joined(separator: ", "))")
        }
        return nil
    }

    /// Updates the record from one call's reply and checks what that call
    /// alone can break (S3, S4, S6, the cap, and denials with nothing in the way).
    mutating func record(_ operation: LockOperation, token: String, spec: ClientSpec, reply: RedisReply,
                         nowMicros: Int64, config: ExplorationConfig) -> Violation? {
        // The invariant a reply breaks says more than its odd shape: check
        // the shape last.
        if let violation = recordLease(operation, token: token, spec: spec, reply: reply, nowMicros: nowMicros, config: config) {
            return violation
        }
        if let problem = Oracle.exactShape(operation, Oracle.integers(reply)) {
            return Violation(invariant: "S7", message: "\(operation.rawValue).lua replied \(Timeline.describe(reply)): \(problem)")
        }
        return nil
    }

    private mutating func recordLease(_ operation: LockOperation, token: String, spec: ClientSpec, reply: RedisReply,
                                      nowMicros: Int64, config: ExplorationConfig) -> Violation? {
        let now = nowMicros / 1000
        let fields = Oracle.integers(reply)
        // On a real server the script's millisecond is known only within the
        // bracket; times recorded at earlier steps may be one off.
        let slack: Int64 = clockResolutionMicros > 0 ? 1 : 0
        func differs(_ a: Int64, _ b: Int64) -> Bool { abs(a - b) > slack }
        let held = live(token, at: now)
        switch operation {
        case .acquireRead:
            guard let granted = fields.first else { return nil }
            if granted == 1 {
                let ttl = fields.count > 1 ? fields[1] : 0
                if held == nil {
                    if spec.mode == "prefer-writers", let intent = liveIntents(at: now).first {
                        return Violation(invariant: "S3", message: "read lease \(token) was granted while writer \(intent) was waiting")
                    }
                    let expected = Oracle.grantedMs(config, capMs: spec.capMs)
                    if ttl != expected {
                        return Violation(invariant: "S7", message: "read lease \(token) granted for \(ttl) ms; the lease (and cap) give \(expected)")
                    }
                    leases[token] = Lease(write: false, expiresMs: now + ttl, capMs: spec.capMs > 0 ? now + spec.capMs : nil, fence: 0)
                } else if held!.write {
                    return Violation(invariant: "S2", message: "\(token) holds the write lease and was granted a read lease too")
                } else if differs(ttl, held!.expiresMs - now) {
                    return Violation(invariant: "S7", message: "a retried read acquire of \(token) reported \(ttl) ms left; its lease has \(held!.expiresMs - now)")
                }
            } else if held != nil, held?.write == false {
                return Violation(invariant: "S4", message: "a retried read acquire of \(token), which holds a live read lease, was refused")
            } else if fields.count > 1, let hint = readWaitHint(at: now, mode: spec.mode), differs(fields[1], hint) {
                return Violation(invariant: "S7", message: "reader \(token) was refused with a wait hint of \(fields[1]) ms; the blocking lease ends in \(hint) ms")
            } else if liveWriters(at: now).isEmpty {
                if spec.mode == "prefer-readers" {
                    return Violation(invariant: "S3", message: "reader \(token) (prefer-readers) was refused though no writer held the lock")
                }
                if liveIntents(at: now).isEmpty {
                    return Violation(invariant: "S5", message: "reader \(token) was refused though nobody held or waited for the lock")
                }
            }
        case .acquireWrite:
            guard let granted = fields.first else { return nil }
            if granted == 1 {
                let ttl = fields.count > 1 ? fields[1] : 0
                let fence = fields.count > 2 ? fields[2] : 0
                if let held, held.write {
                    if fence != held.fence {
                        return Violation(invariant: "S6", message: "a retried acquire of \(token) returned fence \(fence), its lease has fence \(held.fence)")
                    }
                    if differs(ttl, held.expiresMs - now) {
                        return Violation(invariant: "S7", message: "a retried write acquire of \(token) reported \(ttl) ms left; its lease has \(held.expiresMs - now)")
                    }
                    return nil
                }
                if clockResolutionMicros == 0, let first = queue(at: now).first, first != token {
                    return Violation(invariant: "FIFO", message: "write lease went to \(token) while \(first) had been waiting longer")
                }
                if fence <= lastFence {
                    return Violation(invariant: "S6", message: "write lease \(token) got fence \(fence), not above the last fence granted (\(lastFence))")
                }
                // The design's fence, max(last + 1, server µs), is what keeps
                // S6 across expiry of every key: check the formula, not only
                // the order the explored schedules happen to show.
                let lowest = max(lastFence + 1, nowMicros), highest = max(lastFence + 1, nowMicros + clockResolutionMicros)
                if fence < lowest || fence > highest {
                    return Violation(invariant: "S6", message: "write lease \(token) got fence \(fence); max(last + 1, server µs) is \(lowest)")
                }
                let expected = Oracle.grantedMs(config, capMs: spec.capMs)
                if ttl != expected {
                    return Violation(invariant: "S7", message: "write lease \(token) granted for \(ttl) ms; the lease (and cap) give \(expected)")
                }
                lastFence = fence
                intents[token] = nil
                arrivals[token] = nil
                leases[token] = Lease(write: true, expiresMs: now + ttl, capMs: spec.capMs > 0 ? now + spec.capMs : nil, fence: fence)
            } else {
                if let held, held.write {
                    return Violation(invariant: "S4", message: "a retried write acquire of \(token), the live writer, was refused")
                }
                let others = liveIntents(at: now).filter { $0 != token }
                if leases.allSatisfy({ $0.value.expiresMs <= now }) && others.isEmpty {
                    return Violation(invariant: "S5", message: "writer \(token) was refused though nobody held or waited for the lock")
                }
                if intents[token].map({ $0 <= now }) ?? true { arrivals[token] = nowMicros }
                intents[token] = now + config.intentMs
                let position = (queue(at: now).firstIndex(of: token) ?? -1) + 1
                if clockResolutionMicros == 0, fields.count > 2, fields[2] != Int64(position) {
                    return Violation(invariant: "FIFO", message: "writer \(token) was told it is number \(fields[2]) in the queue; it is number \(position)")
                }
                // The arrival orders a client's own waiting writers, so it
                // must be the queue's: when the intent was first registered.
                if clockResolutionMicros == 0, fields.count > 3, fields[3] != arrivals[token] {
                    return Violation(invariant: "FIFO", message: "writer \(token) was told it joined the queue at \(fields[3]) µs; it joined at \(arrivals[token] ?? 0) µs")
                }
                if fields.count > 1, differs(fields[1], writeWaitHint(at: now)) {
                    return Violation(invariant: "S7", message: "writer \(token) was refused with a wait hint of \(fields[1]) ms; the blocking leases end in \(writeWaitHint(at: now)) ms")
                }
            }
        case .release:
            let released = fields.first == 1
            if released && held == nil {
                return Violation(invariant: "S4", message: "release by \(token), which held no live lease, reported that it released one")
            }
            if !released, held != nil {
                return Violation(invariant: "S4", message: "release by \(token), the holder of a live lease, did not release it")
            }
            leases[token] = nil
        case .renew:
            let renewed = fields.first == 1
            if renewed, held == nil {
                return Violation(invariant: "S4", message: "renew by \(token), which held no live lease, reported success (a lost lease revived)")
            }
            guard var lease = held else { return nil }
            guard renewed else {
                return Violation(invariant: "S4", message: "renew by \(token), the holder of a live lease, was refused")
            }
            let ttl = fields.count > 1 ? fields[1] : 0
            if let cap = lease.capMs, now + ttl > cap + slack {
                return Violation(invariant: "CAP", message: "renew of \(token) extended its lease to +\(now + ttl - cap) ms past its hard cap")
            }
            if now + ttl < lease.expiresMs - slack {
                return Violation(invariant: "S4", message: "renew of \(token) shortened its live lease")
            }
            let asked = min(now + config.leaseMs, lease.capMs ?? Int64.max)
            if differs(now + ttl, max(asked, lease.expiresMs)) {
                return Violation(invariant: "S7", message: "renew of \(token) reported \(ttl) ms; the lease (and cap) give \(max(asked, lease.expiresMs) - now)")
            }
            lease.expiresMs = now + ttl
            leases[token] = lease
        case .downgrade:
            let downgraded = fields.first == 1
            if downgraded, held?.write != true {
                return Violation(invariant: "S4", message: "downgrade by \(token), which held no live write lease, reported success")
            }
            if !downgraded, held?.write == true {
                return Violation(invariant: "S4", message: "downgrade by \(token), the live writer, was refused")
            }
            if downgraded, var lease = held {
                let ttl = fields.count > 1 ? fields[1] : 0
                lease.write = false
                lease.expiresMs = now + ttl
                if let cap = lease.capMs, now + ttl > cap + slack {
                    return Violation(invariant: "CAP", message: "downgrade of \(token) set a read lease past its hard cap")
                }
                let expected = min(now + config.leaseMs, lease.capMs ?? Int64.max) - now
                if differs(ttl, expected) {
                    return Violation(invariant: "S7", message: "downgrade of \(token) reported a read lease of \(ttl) ms; the lease (and cap) give \(expected)")
                }
                leases[token] = lease
            }
        case .withdraw:
            let hadIntent = intents[token].map { $0 > now } ?? false
            if (fields.first == 1) != hadIntent {
                return Violation(invariant: "S4", message: "withdraw by \(token) replied \(fields.first ?? -1); it \(hadIntent ? "had" : "had no") live intent")
            }
            intents[token] = nil
            arrivals[token] = nil
        case .inspect:
            break
        }
        return nil
    }

    /// Replies the headers allow but the design never gives: a refusal is
    /// exactly {0, 0} (renew, downgrade), a reader's third field is 0, a
    /// writer's grant has three fields and its refusal four, a yes/no
    /// answer is 0 or 1.
    static func exactShape(_ operation: LockOperation, _ fields: [Int64]) -> String? {
        switch operation {
        case .acquireRead:
            if fields.count == 3, fields[2] != 0 { return "a read acquire's third field is always 0" }
            if let first = fields.first, first != 0, first != 1 { return "the first field is 1 (granted) or 0" }
        case .acquireWrite:
            if let first = fields.first, first != 0, first != 1 { return "the first field is 1 (granted) or 0" }
            if fields.first == 1, fields.count != 3 { return "a grant is {1, lease_ms, fence}" }
            if fields.first == 0, fields.count != 4 { return "a refusal is {0, wait_ms, position, arrival}" }
        case .renew, .downgrade:
            if fields.first == 0, fields.count > 1, fields[1] != 0 { return "a refusal is {0, 0}" }
            if let first = fields.first, first != 0, first != 1 { return "the first field is 1 or 0" }
            if fields.first == 1, fields.count > 1, fields[1] <= 0 { return "a renewed lease has time left" }
        case .release, .withdraw:
            if let first = fields.first, first != 0, first != 1 { return "the reply is 1 or 0" }
        case .inspect:
            break
        }
        return nil
    }

    /// The integers of an array reply, or of an integer reply.
    static func integers(_ reply: RedisReply) -> [Int64] {
        switch reply {
        case .integer(let value): return [value]
        case .array(let elements): return elements.compactMap { if case .integer(let value) = $0 { value } else { nil } }
        default: return []
        }
    }
}
