/// What the least-privilege check covered, for the report.
public struct LeastPrivilegeCoverage: Hashable, Sendable {
    /// Representative lock states the scripts were called on.
    public var states = 0
    /// Calls (script, state, token, arguments) whose unrestricted run was
    /// the reference for their denied runs.
    public var calls = 0
    /// Runs with one command, command on a key, or channel denied.
    public var deniedRuns = 0
    /// Of those, how many the script refused (an error reply).
    public var refusals = 0
    /// Denials never run: the unrestricted call asked nothing they refuse,
    /// so the denied run would be the same run.
    public var provenUnchanged = 0
}

/// R6's script half: no script fails after its first write for a
/// permission its Redis user lacks, and a refused permission reaches the
/// client as Redis's refusal or the lock's `RWLOCK NOPERM` error naming it,
/// never as something else (a "wrong type").
///
/// Each script is called on representative lock states (built by the
/// scripts themselves, with ended leases and lapsed intents beside live
/// ones so that its first write changes something), with the tokens of
/// holders and waiters there and a stranger's, once with every permission
/// and then once per denial: every command its source names, each command
/// on each key where it used the command on more than one (where asking
/// about the wrong key would hide), and the lock's channel. A denied run that
/// fails must leave the keys and the messages published exactly as they
/// were; one that succeeds must end exactly as the unrestricted run did.
///
/// A denial the unrestricted run never met (no command it ran and no
/// `redis.acl_check_cmd` question it asked is refused) is proven without
/// running it: a script's run depends on its user only through those
/// answers, so it would be the same run.
enum LeastPrivilege {
    /// How a representative state is reached.
    enum Step {
        case call(LockOperation, token: String, spec: ClientSpec)
        case advance(milliseconds: Int64)
    }

    /// One representative lock state and the tokens that hold or wait in it.
    struct LockState {
        var name: String
        var steps: [Step]
        var tokens: [String]
    }

    /// The token of a client that holds nothing in any state.
    static let stranger = "stranger"

    /// The states the check calls every script on, with the exploration's
    /// lease and intent lengths: the lock idle, held, waited for, and
    /// holding leftovers (an ended reader, a lapsed intent) that make the
    /// scripts' pruning their first write.
    static func lockStates(_ config: ExplorationConfig) -> [LockState] {
        let lease = config.leaseMs, intent = config.intentMs
        let reader = ClientSpec(.reader), writer = ClientSpec(.writer)
        let cappedReader = ClientSpec(.reader, capMs: lease * 4), cappedWriter = ClientSpec(.writer, capMs: lease * 4)
        return [
            LockState(name: "no lock", steps: [], tokens: []),
            LockState(name: "a live capped write lease",
                      steps: [.call(.acquireWrite, token: "holder", spec: cappedWriter)], tokens: ["holder"]),
            LockState(name: "a live write lease and a waiting writer's intent",
                      steps: [.call(.acquireWrite, token: "holder", spec: writer), .call(.acquireWrite, token: "waiter", spec: writer)],
                      tokens: ["holder", "waiter"]),
            LockState(name: "live read leases, one capped, beside a capped reader whose lease ended",
                      steps: [.call(.acquireRead, token: "ended", spec: cappedReader), .advance(milliseconds: lease * 3 / 5),
                              .call(.acquireRead, token: "holder", spec: cappedReader), .call(.acquireRead, token: "reader", spec: reader),
                              .advance(milliseconds: lease / 2)],
                      tokens: ["holder", "reader"]),
            LockState(name: "a live read lease beside a reader whose lease ended, no caps",
                      steps: [.call(.acquireRead, token: "ended", spec: reader), .advance(milliseconds: lease * 3 / 5),
                              .call(.acquireRead, token: "holder", spec: reader), .advance(milliseconds: lease / 2)],
                      tokens: ["holder"]),
            LockState(name: "a live capped read lease and a waiting writer's intent",
                      steps: [.call(.acquireRead, token: "holder", spec: cappedReader), .call(.acquireWrite, token: "waiter", spec: writer)],
                      tokens: ["holder", "waiter"]),
            LockState(name: "a free lock, one lapsed intent and a live one",
                      steps: [.call(.acquireWrite, token: "other", spec: writer), .call(.acquireWrite, token: "lapsed", spec: writer),
                              .advance(milliseconds: lease + 1), .call(.acquireWrite, token: "holder", spec: writer),
                              .advance(milliseconds: intent - lease)],
                      tokens: ["holder"]),
            LockState(name: "a live write lease, one lapsed intent and a live one",
                      steps: [.call(.acquireWrite, token: "holder", spec: writer), .call(.acquireWrite, token: "lapsed", spec: writer),
                              .advance(milliseconds: lease / 2), .call(.renew, token: "holder", spec: writer),
                              .call(.acquireWrite, token: "waiter", spec: writer), .advance(milliseconds: lease / 2),
                              .call(.renew, token: "holder", spec: writer), .advance(milliseconds: intent - lease + 1)],
                      tokens: ["holder", "waiter"]),
            LockState(name: "a free lock with a waiting writer at the head of the queue",
                      steps: [.call(.acquireWrite, token: "other", spec: writer), .call(.acquireWrite, token: "holder", spec: writer),
                              .call(.release, token: "other", spec: writer)],
                      tokens: ["holder"]),
        ]
    }

    /// The client each operation is called as. An acquire with a cap runs
    /// every command one without runs and the caps key's besides; 1 ms is
    /// the smallest cap, so a check skipped for small caps shows, and a
    /// reader preferring readers is granted beside waiting writers too.
    static func spec(for operation: LockOperation) -> ClientSpec {
        switch operation {
        case .acquireRead: return ClientSpec(.reader, mode: "prefer-readers", capMs: 1)
        case .acquireWrite: return ClientSpec(.writer, capMs: 1)
        default: return ClientSpec(.writer)
        }
    }

    /// The tokens `operation` is called with on `state`: its holders' and
    /// waiters', and a stranger's where that takes another path that can
    /// write (an acquire, or any call on an idle lock). A stranger's
    /// release, renew, downgrade or withdraw writes nothing, and its reads
    /// are the ones a holder's call makes first.
    static func tokens(for operation: LockOperation, on state: LockState) -> [String] {
        if operation == .inspect { return [stranger] }   // it takes no token
        let acquires = operation == .acquireRead || operation == .acquireWrite
        return state.tokens + (acquires || state.tokens.isEmpty ? [stranger] : [])
    }

    /// The first violation, and what was covered up to it.
    static func check(scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig) -> (Violation?, LeastPrivilegeCoverage) {
        var coverage = LeastPrivilegeCoverage()
        let saved = engine.user
        defer { engine.user = saved }
        let states = lockStates(config)
        coverage.states = states.count
        let named = Dictionary(uniqueKeysWithValues: LockOperation.allCases.map {
            ($0, Linter.commands(calledBy: scripts[$0]).sorted())
        })
        for state in states {
            engine.user = .unrestricted
            let before = build(state, scripts: scripts, engine: engine, config: config)
            for operation in LockOperation.allCases {
                let spec = spec(for: operation)
                for token in tokens(for: operation, on: state) {
                    let call = Call(operation: operation, token: token, spec: spec, state: state,
                                    arguments: World.arguments(operation, token: token, spec: spec, config: config))
                    engine.user = .unrestricted
                    let reference = run(call, on: before, scripts: scripts, engine: engine)
                    // A healthy state's error is the exploration's finding (S7).
                    if case .error = reference.run.reply { continue }
                    coverage.calls += 1
                    let asked = (reference.run.commands + reference.run.aclQueries).map(Query.init)
                    for denial in denials(named: named[operation] ?? [], asked: asked) {
                        let user = RedisUser(denying: denial)
                        guard asked.contains(where: { user.refusal($0.argv, name: $0.name, info: $0.info) != nil }) else {
                            coverage.provenUnchanged += 1
                            continue
                        }
                        engine.user = user
                        let denied = run(call, on: before, scripts: scripts, engine: engine)
                        coverage.deniedRuns += 1
                        if case .error = denied.run.reply { coverage.refusals += 1 }
                        if let violation = judge(denied, reference: reference, before: before, denial: denial, call: call) {
                            return (violation, coverage)
                        }
                    }
                }
            }
        }
        return (nil, coverage)
    }

    /// One call the check makes, for running and for reports.
    struct Call {
        var operation: LockOperation
        var token: String
        var spec: ClientSpec
        var state: LockState
        var arguments: [[UInt8]]

        var description: String {
            var text = "\(operation.rawValue).lua"
            if operation != .inspect { text += token == LeastPrivilege.stranger ? " with a stranger's token" : " with token \(token)" }
            if operation == .acquireRead || operation == .acquireWrite {
                var options: [String] = []
                if operation == .acquireRead { options.append(spec.mode) }
                if spec.capMs > 0 { options.append("cap \(spec.capMs) ms") }
                if !options.isEmpty { text += " (\(options.joined(separator: ", ")))" }
            }
            let recipe = state.steps.map(LeastPrivilege.describe).joined(separator: ", ")
            return text + " on \(state.name)" + (recipe.isEmpty ? "" : " (\(recipe))")
        }
    }

    private struct Outcome {
        var run: ScriptRun
        var redis: MockRedis
    }

    private static func run(_ call: Call, on state: MockRedis, scripts: LockScripts, engine: ScriptEngine) -> Outcome {
        engine.redis = state
        let run = engine.eval(scripts[call.operation], keys: World.keys, arguments: call.arguments)
        return Outcome(run: run, redis: engine.redis)
    }

    /// The state `state`'s steps reach, with ended keys purged (so a failed
    /// run that merely looked at one changes nothing) and no messages.
    static func build(_ state: LockState, scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig) -> MockRedis {
        var world = World(clientCount: 1)
        for step in state.steps {
            switch step {
            case .call(let operation, let token, let spec):
                _ = world.run(operation, arguments: World.arguments(operation, token: token, spec: spec, config: config),
                              scripts: scripts, engine: engine)
            case .advance(let milliseconds):
                world.redis.nowMicros += milliseconds * 1000
            }
        }
        world.redis.purgeExpired()
        world.redis.clearPublished()
        return world.redis
    }

    /// A command the unrestricted run ran or asked about, looked up once.
    struct Query {
        var argv: [[UInt8]]
        var name: String
        var info: RedisCommandInfo?

        init(_ argv: [[UInt8]]) {
            self.argv = argv
            name = argv[0].lowercasedASCII
            info = RedisCommandTable.commands[name]
        }

        var keys: [[UInt8]] { MockRedis.keyPositions(argv.count, info: info).map { argv[$0] } }
    }

    /// Each permission the call could miss, in a fixed order so a finding
    /// is reproducible: every command the script names; each command on
    /// each key, for a command the call used on more than one key (a check
    /// asking about the wrong key shows only there; on one key, denying
    /// the command refuses the same questions); and the lock's channel.
    static func denials(named: [String], asked: [Query]) -> [RedisUser.Denial] {
        var found: [RedisUser.Denial] = named.map { .command($0) }
        var keysUsed: [String: [[UInt8]]] = [:]
        for query in asked {
            for key in query.keys where !(keysUsed[query.name] ?? []).contains(key) {
                keysUsed[query.name, default: []].append(key)
            }
        }
        for query in asked where (keysUsed[query.name]?.count ?? 0) > 1 {
            for key in query.keys where !found.contains(.commandOnKey(query.name, key: key)) {
                found.append(.commandOnKey(query.name, key: key))
            }
        }
        found.append(.channel(World.keys[6]))
        return found
    }

    /// R6 for one denied run, against the unrestricted run of the same call.
    private static func judge(_ denied: Outcome, reference: Outcome, before: MockRedis, denial: RedisUser.Denial,
                              call: Call) -> Violation? {
        var context: String { "with \(denial), \(call.description)" }
        if let problem = denied.run.problems.first {
            return Violation(invariant: "S7", message: "\(context): \(problem)")
        }
        guard case .error(let text) = denied.run.reply else {
            // Went on: only right if the denial never mattered.
            if denied.run.reply != reference.run.reply || denied.redis != reference.redis {
                return Violation(invariant: "R6", message: "\(context), replied \(Timeline.describe(denied.run.reply)) (\(changes(from: before, to: denied.redis))); with every permission it replied \(Timeline.describe(reference.run.reply)) (\(changes(from: before, to: reference.redis))): a refused command must fail the call, not change its outcome")
            }
            return nil
        }
        if denied.redis != before {
            return Violation(invariant: "R6", message: "\(context), failed after its first write: it \(changes(from: before, to: denied.redis)), then replied \(Timeline.describe(denied.run.reply))")
        }
        let refusedByRedis = text.hasPrefix("ERR The user executing the script can't")
        if !refusedByRedis && !(text.hasPrefix("RWLOCK NOPERM ") && names(denial, in: text)) {
            return Violation(invariant: "R6", message: "\(context), replied \(Timeline.describe(denied.run.reply)): a missing permission must reach the client as Redis's refusal or an RWLOCK NOPERM error naming it")
        }
        return nil
    }

    /// Whether an RWLOCK NOPERM error names what `denial` refuses (the
    /// command in any case).
    static func names(_ denial: RedisUser.Denial, in text: String) -> Bool {
        let bytes = Array(text.utf8)
        func mentions(_ part: [UInt8]) -> Bool {
            guard part.count <= bytes.count else { return false }
            return (0...(bytes.count - part.count)).contains { start in
                bytes[start..<(start + part.count)].elementsEqual(part)
            }
        }
        func mentionsCommand(_ name: String) -> Bool {
            mentions(Array(name.utf8)) || mentions(Array(name.uppercased().utf8))
        }
        switch denial {
        case .command(let name): return mentionsCommand(name)
        case .commandOnKey(let name, let key): return mentionsCommand(name) && mentions(key)
        case .key(let key): return mentions(key)
        case .channel(let channel): return mentions(channel)
        }
    }

    /// What a run changed, for people: keys created, changed or deleted,
    /// and messages published.
    static func changes(from before: MockRedis, to after: MockRedis) -> String {
        let old = Dictionary(uniqueKeysWithValues: before.snapshot().map { ($0.key, $0) })
        let new = Dictionary(uniqueKeysWithValues: after.snapshot().map { ($0.key, $0) })
        var parts: [String] = []
        for key in Set(old.keys).union(new.keys).sorted(by: { $0.lexicographicallyPrecedes($1) }) where old[key] != new[key] {
            let verb = old[key] == nil ? "created" : new[key] == nil ? "deleted" : "changed"
            parts.append("\(verb) \(String(decoding: key, as: UTF8.self))")
        }
        for message in after.published {
            parts.append("published \"\(String(decoding: message.message, as: UTF8.self))\" on \(String(decoding: message.channel, as: UTF8.self))")
        }
        return parts.isEmpty ? "changed nothing" : parts.joined(separator: ", ")
    }

    static func describe(_ step: Step) -> String {
        switch step {
        case .advance(let milliseconds): return "\(milliseconds) ms pass"
        case .call(let operation, let token, let spec):
            return "\(operation.rawValue)(\(token)\(spec.capMs > 0 ? ", cap \(spec.capMs) ms" : ""))"
        }
    }
}
