/// What one step did, for timelines.
public struct StepRecord: Hashable, Sendable {
    public var action: Action
    /// Server time after the step, in ms since the schedule began.
    public var elapsedMs: Int64
    public var token: String?
    public var reply: RedisReply?
    /// The oracle's view after the step: live writer, readers and intents.
    public var oracleView: String
}

/// One state of the explored system: the mock server, every client's view,
/// and the oracle. A value: copying it forks the schedule.
struct World: Hashable, Sendable {
    static let lockName = "lock"
    static let keys: [[UInt8]] = ["writer", "readers", "caps", "queue", "intents", "fence", "channel"]
        .map { Array("rwlock:{\(lockName)}:\($0)".utf8) }
    /// A start with a sub-millisecond part, so scripts that round server
    /// time wrongly show it.
    static let startMicros: Int64 = 1_700_000_000_000_250

    var redis = MockRedis(nowMicros: World.startMicros)
    var clients: [ClientState]
    var oracle = Oracle()
    /// Faults spent so far, against the exhaustive search's budget.
    var lostReplies = 0
    var timeJumps = 0

    init(clientCount: Int) {
        clients = Array(repeating: ClientState(), count: clientCount)
    }

    var nowMs: Int64 { redis.nowMicros / 1000 }
    var elapsedMs: Int64 { (redis.nowMicros - World.startMicros) / 1000 }

    /// The steps the exhaustive search branches on from here. Within the
    /// fault budget: a lost reply for acquires, whose retry is the duplicated
    /// call of the fault model (random schedules lose every kind of reply),
    /// and time jumps of half a lease and to the next deadline (exactly onto
    /// the boundary, where off-by-one bugs live).
    func enabledActions(_ config: ExplorationConfig) -> [Action] {
        var actions: [Action] = []
        let mayLose = config.faults && lostReplies < config.maxLostReplies
        for (index, client) in clients.enumerated() where !client.crashed {
            for operation in client.operations(for: config.clients[index].role) {
                actions.append(.call(client: index, operation: operation, lostReply: false))
                if mayLose, operation == .acquireRead || operation == .acquireWrite {
                    actions.append(.call(client: index, operation: operation, lostReply: true))
                }
            }
        }
        guard timeJumps < config.maxTimeJumps else { return actions }
        var jumps = Set(config.advances.prefix(1))
        let now = nowMs
        let deadlines = oracle.leases.values.map(\.expiresMs) + oracle.intents.values + oracle.leases.values.compactMap(\.capMs)
        if let next = deadlines.filter({ $0 > now }).min() { jumps.insert(next - now) } else { jumps.formUnion(config.advances.dropFirst()) }
        for milliseconds in jumps.sorted() { actions.append(.advance(milliseconds: milliseconds)) }
        return actions
    }

    /// Whether a client in its current state would take `action`.
    func allows(_ action: Action, _ config: ExplorationConfig) -> Bool {
        switch action {
        case .advance: return true
        case .crash(let client): return !clients[client].crashed
        case .giveUp(let client): return !clients[client].crashed && clients[client].phase == .waiting
        case .call(let client, let operation, _):
            return !clients[client].crashed
                && clients[client].operations(for: config.clients[client].role).contains(operation)
        }
    }

    /// The arguments of `operation` for a client.
    static func arguments(_ operation: LockOperation, token: String, spec: ClientSpec, config: ExplorationConfig) -> [[UInt8]] {
        let values: [String]
        switch operation {
        case .acquireRead: values = [token, "\(config.leaseMs)", spec.mode, "\(spec.capMs)"]
        case .acquireWrite: values = [token, "\(config.leaseMs)", "\(config.intentMs)", "\(spec.capMs)"]
        case .renew, .downgrade: values = [token, "\(config.leaseMs)"]
        case .release, .withdraw: values = [token]
        case .inspect: values = []
        }
        return values.map { Array($0.utf8) }
    }

    /// Applies `action`, running the real script on the mock, and returns
    /// what happened and the first invariant it broke, if any.
    /// With a `memo`, runs repeat from it (see `RunMemo`); `recording: false`
    /// leaves the record's oracle view empty, which the search never reads.
    mutating func apply(_ action: Action, scripts: LockScripts, engine: ScriptEngine,
                        config: ExplorationConfig, memo: RunMemo? = nil, recording: Bool = true) -> (StepRecord, Violation?) {
        var token: String?
        var reply: RedisReply?
        var violation: Violation?
        switch action {
        case .advance(let milliseconds):
            redis.nowMicros += milliseconds * 1000
            timeJumps += 1
        case .crash(let client):
            clients[client].crashed = true
        case .giveUp(let client):
            clients[client].phase = .idle
            clients[client].attempt += 1
        case .call(let client, let operation, let lostReply):
            guard !clients[client].crashed else { break }
            let spec = config.clients[client]
            let callToken = clients[client].token(of: client)
            token = callToken
            let (redisBefore, recordBefore) = (redis, oracle)
            let run = perform(operation, arguments: World.arguments(operation, token: callToken, spec: spec, config: config),
                              scripts: scripts, engine: engine, memo: memo)
            reply = run.reply
            violation = run.hygiene
                ?? oracle.record(operation, token: callToken, spec: spec, reply: run.reply, nowMicros: redis.nowMicros, config: config)
                ?? World.wakeups(operation, reply: run.reply, published: redis.published.count)
                ?? boundedState(after: operation, token: callToken, before: redisBefore, recordBefore: recordBefore)
            if lostReply { lostReplies += 1 } else { clients[client].learn(from: operation, reply: run.reply) }
        }
        violation = violation ?? oracle.checkExclusion(at: nowMs) ?? leakedKey() ?? leasesRecorded()
        let record = StepRecord(action: action, elapsedMs: elapsedMs, token: token, reply: reply,
                                oracleView: recording ? oracleView() : "")
        return (record, violation)
    }

    /// Runs `operation` and judges its commands (`hygiene`): the reply and
    /// the verdict, served from `memo` when this exact input ran before.
    /// Afterwards the mock's PUBLISH log holds what this run published.
    mutating func perform(_ operation: LockOperation, arguments: [[UInt8]], scripts: LockScripts,
                          engine: ScriptEngine, memo: RunMemo?) -> (reply: RedisReply, hygiene: Violation?) {
        redis.clearPublished()
        // The memo's key is the mock's state: runs as a restricted user differ.
        guard let memo, engine.user.isUnrestricted else {
            let run = run(operation, arguments: arguments, scripts: scripts, engine: engine)
            return (run.reply, World.hygiene(run, operation: operation, scripts: scripts))
        }
        // Expired keys are invisible to every command a script may run, so
        // states that differ only in expired leftovers share their runs.
        redis.purgeExpired()
        let key = RunMemo.Key(operation: operation, arguments: arguments, redis: redis)
        if let outcome = memo.outcome(for: key) {
            redis = outcome.redis
            return (outcome.reply, outcome.hygiene)
        }
        let draws = engine.randomDraws
        let run = run(operation, arguments: arguments, scripts: scripts, engine: engine)
        let hygiene = World.hygiene(run, operation: operation, scripts: scripts)
        if engine.randomDraws == draws {
            memo.store(RunMemo.Outcome(reply: run.reply, hygiene: hygiene, redis: redis), for: key)
        }
        return (run.reply, hygiene)
    }

    mutating func run(_ operation: LockOperation, arguments: [[UInt8]], scripts: LockScripts, engine: ScriptEngine) -> ScriptRun {
        engine.redis = redis
        let run = engine.eval(scripts[operation], keys: World.keys, arguments: arguments)
        redis = engine.redis
        return run
    }

    /// S7: what the script did besides its reply, and the reply's shape.
    static func hygiene(_ run: ScriptRun, operation: LockOperation, scripts: LockScripts) -> Violation? {
        if let problem = run.problems.first {
            return Violation(invariant: "S7", message: "\(operation.rawValue).lua \(problem)")
        }
        for command in run.commands where !Linter.allowedCommandBytes.contains(command[0]) {
            let name = command[0].lowercasedASCII
            if !Linter.allowedCommands.contains(name) {
                return Violation(invariant: "S7", message: "\(operation.rawValue).lua ran \(name.uppercased()), which is not on the allow-list")
            }
        }
        for command in run.commands where command[0].lowercasedASCII == "publish" && command.count > 1 && command[1] != World.keys[6] {
            return Violation(invariant: "S5", message: "\(operation.rawValue).lua published on \(String(decoding: command[1], as: UTF8.self)), not the lock's channel")
        }
        if case .error(let text) = run.reply {
            return Violation(invariant: "S7", message: "\(operation.rawValue).lua replied with an error on a healthy lock: \(text)")
        }
        if let shape = scripts.headers[operation]?.reply, !shape.matches(run.reply) {
            return Violation(invariant: "S7", message: "\(operation.rawValue).lua replied \(Timeline.describe(run.reply)), not its documented shape \(shape)")
        }
        return nil
    }

    /// Waiting without polling depends on every release, downgrade and
    /// withdrawal announcing itself once on the lock's channel, and on
    /// nothing else doing so.
    static func wakeups(_ operation: LockOperation, reply: RedisReply, published: Int) -> Violation? {
        let changed = Oracle.integers(reply).first == 1
        let announces = [.release, .downgrade, .withdraw].contains(operation) && changed
        if published != (announces ? 1 : 0) {
            return Violation(invariant: "S5", message: "\(operation.rawValue).lua published \(published) message(s) on the lock's channel; waiters expect \(announces ? 1 : 0)")
        }
        return nil
    }

    /// Every live lease stays on record until it ends — the writer hash for
    /// the write lease, the readers zset for each read lease (S4: nobody
    /// else's call may erase it) — and so does its hard cap, if it has one
    /// (the writer hash's `cap`, the caps zset): a cap record that expires
    /// early lets a later renew run past the cap. "Until it ends" is checked
    /// against the keys' expiries too, so a record set to expire before its
    /// lease ends is caught at once, not only if the search happens to stop
    /// the clock in between.
    func leasesRecorded() -> Violation? {
        let now = nowMs
        // What HGET and ZSCORE reply, read without running them.
        func field(_ name: String) -> RedisReply {
            switch redis.peek(World.keys[0]) {
            case nil: return .null
            case .hash(let fields)?: return fields[Array(name.utf8)].map(RedisReply.bulk) ?? .null
            default: return .error(MockRedisError.wrongType.message)
            }
        }
        func score(_ key: Int, _ member: [UInt8]) -> RedisReply {
            switch redis.peek(World.keys[key]) {
            case nil: return .null
            case .zset(let set)?: return set.score(of: member).map { .bulk(RedisNumbers.formatDouble($0)) } ?? .null
            default: return .error(MockRedisError.wrongType.message)
            }
        }
        func number(_ reply: RedisReply) -> Int64? {
            if case .bulk(let bytes) = reply { return Int64(String(decoding: bytes, as: UTF8.self)) }
            return nil
        }
        for (token, lease) in oracle.leases.sorted(by: { $0.key < $1.key }) where lease.expiresMs > now {
            let name = Array(token.utf8)
            let recorded = lease.write ? field("token") == .bulk(name) : number(score(1, name)) != nil
            if !recorded {
                return Violation(invariant: "S4", message: "live \(lease.write ? "write" : "read") lease \(token) is no longer on record")
            }
            // The lease is live while now < expiresMs; its key while now <= its deadline.
            if let last = redis.lastLiveMs(World.keys[lease.write ? 0 : 1]), last + 1 < lease.expiresMs {
                return Violation(invariant: "S4", message: "the record of live \(lease.write ? "write" : "read") lease \(token) expires \(lease.expiresMs - last - 1) ms before the lease ends")
            }
            if let capMs = lease.capMs, !lease.write, let last = redis.lastLiveMs(World.keys[2]), last + 1 < lease.expiresMs {
                return Violation(invariant: "CAP", message: "the hard cap of live lease \(token) (\(capMs - World.startMicros / 1000) ms after the start) expires \(lease.expiresMs - last - 1) ms before the lease ends")
            }
            guard let cap = lease.capMs else { continue }
            let stored = lease.write ? field("cap") : score(2, name)
            if number(stored) != cap {
                return Violation(invariant: "CAP", message: "the hard cap of live lease \(token) is no longer on record (\(Timeline.describe(stored)), expected \(cap - World.startMicros / 1000) ms after the start)")
            }
        }
        return nil
    }

    /// The lock's stored keys (the channel is not one) in byte order, the
    /// order a leak is reported in.
    static let storedKeys = keys.dropLast().sorted { $0.lexicographicallyPrecedes($1) }

    /// S5: no key of the lock may be left without an expiry.
    func leakedKey() -> Violation? {
        for key in World.storedKeys where redis.isPersistent(key) {
            return Violation(invariant: "S5", message: "key \(String(decoding: key, as: UTF8.self)) has no expiry")
        }
        return nil
    }

    /// S5's liveness half: once everyone has stopped, a fresh writer gets the
    /// lock within one longest lease, and inspect agrees with the oracle now.
    func probe(scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig, inspecting: Bool = true,
               memo: RunMemo? = nil) -> Violation? {
        var world = self
        if inspecting, let violation = world.inspectAgrees(scripts: scripts, engine: engine, memo: memo) { return violation }
        world.redis.nowMicros += (config.longestLeaseMs + 1) * 1000
        // Within one longest lease of everyone stopping, every key but the
        // fence (which must outlive the lock's idle spells) is gone.
        if let key = World.storedKeys.first(where: { $0 != World.keys[5] && world.redis.peek($0) != nil }) {
            return Violation(invariant: "S5", message: "key \(String(decoding: key, as: UTF8.self)) is still there \(config.longestLeaseMs + 1) ms after every client stopped")
        }
        let arguments = World.arguments(.acquireWrite, token: "probe", spec: ClientSpec(.writer), config: config)
        let run = world.perform(.acquireWrite, arguments: arguments, scripts: scripts, engine: engine, memo: memo)
        if let violation = run.hygiene { return violation }
        if Oracle.integers(run.reply).first != 1 {
            return Violation(invariant: "S5", message: "with every client stopped, a fresh writer was refused \(config.longestLeaseMs + 1) ms later: \(Timeline.describe(run.reply))")
        }
        return world.leakedKey()
    }

    /// The operator's view (inspect.lua) must agree with the oracle: writer,
    /// its time left and fence, the last fence, every reader with its time
    /// left, and the waiting writers in the order they will be served.
    mutating func inspectAgrees(scripts: LockScripts, engine: ScriptEngine, memo: RunMemo? = nil) -> Violation? {
        let inspected = perform(.inspect, arguments: [], scripts: scripts, engine: engine, memo: memo)
        if let violation = inspected.hygiene { return violation }
        let now = nowMs
        let writer = oracle.liveWriters(at: now).first
        let lease = writer.flatMap { oracle.leases[$0] }
        func pairs(_ tokens: [String], _ expiry: (String) -> Int64) -> RedisReply {
            .array(tokens.flatMap { [RedisReply.bulk(Array($0.utf8)), .integer(expiry($0) - now)] })
        }
        let readers = oracle.liveReaders(at: now)
        let expected = RedisReply.array([
            .bulk(Array((writer ?? "").utf8)),
            .integer(lease.map { $0.expiresMs - now } ?? 0),
            .integer(lease?.fence ?? 0),
            .integer(oracle.lastFence),
            pairs(readers) { self.oracle.leases[$0]!.expiresMs },
            pairs(oracle.queue(at: now)) { self.oracle.intents[$0]! },
        ])
        guard case .array(var fields) = inspected.reply, fields.count == 6 else { return nil }
        // Readers come back in deadline order; the oracle's are by token.
        if case .array(let flat) = fields[4] {
            let sorted = stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
                .sorted { Timeline.describe($0.0) < Timeline.describe($1.0) }
            fields[4] = .array(sorted.flatMap { [$0.0, $0.1] })
        }
        if RedisReply.array(fields) != expected {
            return Violation(invariant: "S4", message: "inspect shows \(Timeline.describe(inspected.reply)); the oracle has \(Timeline.describe(expected))")
        }
        return nil
    }

    func oracleView() -> String {
        let now = nowMs
        var parts: [String] = []
        if let writer = oracle.liveWriters(at: now).first, let lease = oracle.leases[writer] {
            parts.append("W \(writer) to +\(lease.expiresMs - World.startMicros / 1000)")
        }
        let readers = oracle.liveReaders(at: now)
        if !readers.isEmpty { parts.append("R " + readers.joined(separator: ",")) }
        let intents = oracle.liveIntents(at: now)
        if !intents.isEmpty { parts.append("waiting " + intents.joined(separator: ",")) }
        return parts.isEmpty ? "free" : parts.joined(separator: "; ")
    }

    /// Hash of the state that matters for the future: expired data forgotten.
    func canonicalHash() -> Int {
        var copy = self
        copy.redis.purgeExpired()
        copy.redis.clearPublished()
        copy.oracle.forgetExpired(at: nowMs)
        return copy.hashValue
    }
}

extension ClientState {
    /// What the client concludes from a reply it received.
    mutating func learn(from operation: LockOperation, reply: RedisReply) {
        let granted = Oracle.integers(reply).first == 1
        switch operation {
        case .acquireRead: phase = granted ? .holdingRead : .waiting
        case .acquireWrite: phase = granted ? .holdingWrite : .waiting
        case .downgrade:
            if granted { phase = .holdingRead } else { finish() }
        case .renew:
            if !granted { finish() }
        case .release, .withdraw: finish()
        case .inspect: break
        }
    }

    private mutating func finish() {
        phase = .idle
        attempt += 1
    }
}
