import Foundation
import Testing
@testable import RWLock
@testable import ScriptCheck

/// Generated schedules replayed on a real redis-server: every call runs the
/// same script with the same KEYS and ARGV on the mock (through the same
/// `World.apply` and `ScriptEngine` the explorer uses, so every mock-side
/// invariant check runs too) and on the server (EVALSHA after SCRIPT LOAD),
/// and the two must reply alike. The server's replies go to an `Oracle` of
/// their own, which must see no violation either. This is what ties the
/// explorer's verdicts to Redis itself: the mock's fidelity is tested on
/// commands and snippets elsewhere, here on the lock's own scripts in the
/// states the explorer reaches.
///
/// Real time cannot jump, so the schedules are generated without time jumps
/// and with leases, intents and caps of 20 s or more: nothing expires during
/// a replay (a few hundred ms). Each call is sent as TIME, EVALSHA, TIME in
/// one pipeline: the mock's clock is set to the first TIME, and the server's
/// oracle judges the reply at the script's own millisecond, which the two
/// TIMEs bracket (exactly, unless they straddle a millisecond; then any
/// millisecond in between that explains the reply is accepted, so a 1 ms
/// clock artefact is not reported as a CAP or renew violation). What may
/// still differ between the replies:
/// - remaining-ms fields (lease, wait, PTTL): the script runs a moment after
///   TIME, so they may differ by a few ms (`msTolerance`);
/// - fencing tokens: `max(last + 1, server µs)`, so never equal across the
///   sides; both must strictly increase (each side's oracle checks S6) and
///   stay within `fenceToleranceMicros` of each other.
/// Grant/deny decisions, queue positions, tokens and reply shapes must be
/// exactly equal.
///
/// Live only (needs `REDIS_URL`). Works in database 11, which it empties
/// with FLUSHDB before each schedule (never FLUSHALL: other suites share the
/// server); each schedule also has its own lock name. Prints its seeds;
/// `PROPERTY_SEED` replays a run.
@Suite(.serialized, .enabled(if: LiveEnvironment.hasServer))
struct RealRedisReplayProperties {
    static let database = 11
    static let batches = 3
    static let schedulesPerBatch = 20
    static let stepsPerSchedule = 40
    static let msTolerance: Int64 = 50
    static let fenceToleranceMicros: Int64 = 50_000

    @Test("Generated schedules get the mock's replies from a real server", arguments: 0..<batches)
    func replay(batch: Int) async throws {
        // On a thread of its own: blocking network calls must not hold a
        // cooperative-pool thread the live lock tests need.
        if let report = try await offThePool({ try Self.runReplayBatch(batch) }) {
            Issue.record(Comment(rawValue: report))
        }
    }

    /// The batch itself: the failure report, or nil when both sides agreed.
    static func runReplayBatch(_ batch: Int) throws -> String? {
        let scripts = try LockScripts(directory: LockScripts.defaultDirectory)
        let server = try ReplayServer(scripts: scripts, database: Self.database)
        let started = ContinuousClock.now
        var totals = ReplayTotals()
        for index in 0..<Self.schedulesPerBatch {
            let number = batch * Self.schedulesPerBatch + index
            var g = SplitMix64(seed: SplitMix64.derive(PropertySeed.run, 2000 + number))
            let config = ScopeGenerator.replay(&g)
            let seed = g.next()
            let actions = ScheduleReplay.generate(config, seed: seed, steps: Self.stepsPerSchedule, scripts: scripts)
            let label = "schedule \(number) (\(PropertySeed.replay), schedule seed \(seed))"
            var replay = ScheduleReplay(config: config, scripts: scripts, server: server,
                                        lockName: "prop-\(PropertySeed.run.hex)-\(number)")
            try server.flush()
            let failure = try replay.run(actions)
            totals.add(replay)
            if let failure {
                let report = "Real-Redis replay mismatch in \(label): \(ScopeGenerator.describe(config))\n"
                    + failure + "\n" + replay.listing()
                print(report)
                return report
            }
        }
        print("Property replay batch \(batch) (\(PropertySeed.replay)): \(Self.schedulesPerBatch) schedules, \(totals) in \(ContinuousClock.now - started)")
        return nil
    }

}

/// What one batch covered, for the report.
struct ReplayTotals: CustomStringConvertible {
    var calls = 0, lostReplies = 0, crashes = 0, inexactSteps = 0
    /// Per operation: calls, and how many answered 1 (granted, released…).
    var byOperation: [LockOperation: (calls: Int, ones: Int)] = [:]
    var maxMsDrift: Int64 = 0, maxFenceDriftMicros: Int64 = 0

    mutating func add(_ replay: ScheduleReplay) {
        calls += replay.calls
        lostReplies += replay.lostReplies; crashes += replay.crashes; inexactSteps += replay.inexactSteps
        for (operation, counts) in replay.byOperation {
            let total = byOperation[operation] ?? (0, 0)
            byOperation[operation] = (total.calls + counts.calls, total.ones + counts.ones)
        }
        maxMsDrift = max(maxMsDrift, replay.maxMsDrift)
        maxFenceDriftMicros = max(maxFenceDriftMicros, replay.maxFenceDriftMicros)
    }

    var description: String {
        let operations = byOperation.sorted { $0.key < $1.key }
            .map { "\($0.key.rawValue) \($0.value.calls) (\($0.value.ones) answered 1)" }.joined(separator: ", ")
        return "\(calls) script calls on both sides [\(operations)], \(lostReplies) lost replies, \(crashes) crashes, \(inexactSteps) steps whose script time spanned 2 ms; "
            + "largest ms drift \(maxMsDrift), largest fence drift \(maxFenceDriftMicros) µs"
    }
}

/// The server side of a replay: a connection to the suite's database and
/// the lock scripts loaded into the server's script cache.
final class ReplayServer {
    let connection: HiredisConnection
    let scripts: LockScripts

    init(scripts: LockScripts, database: Int) throws {
        _ = signal(SIGPIPE, SIG_IGN)
        var endpoint = try RedisEndpoint.fromEnvironment()
        endpoint.database = database
        connection = try HiredisConnection(endpoint: endpoint, commandTimeout: .seconds(10))
        self.scripts = scripts
        try load()
    }

    /// SCRIPT LOAD every script; the server's SHA1 must be the mock's.
    func load() throws {
        for operation in LockOperation.allCases {
            let script = scripts[operation]
            let reply = try connection.command([Array("SCRIPT"), Array("LOAD"), script.source])
            guard reply.string == script.sha1 else {
                throw SetupError("SCRIPT LOAD of \(operation.rawValue).lua answered \(reply), the mock's SHA1 is \(script.sha1)")
            }
        }
    }

    func flush() throws { _ = try connection.command([Array("FLUSHDB")]) }

    /// Waits, when the server's clock is late in its millisecond, for the
    /// next one to begin, so that a step's bracket rarely spans two
    /// milliseconds (the pipeline takes a few hundred µs at most).
    private func startEarlyInAMillisecond() throws {
        guard let now = DifferentialRunner.micros(try connection.command([Array("TIME")])) else { return }
        let into = now % 1000
        if into > 400 { usleep(UInt32(1000 - into + 20)) }
    }

    /// The server's clock just before and just after a script ran, in µs.
    /// Redis runs one command at a time, so the script's own TIME (and the
    /// instant its PTTLs are judged at) lies in between: when both are in
    /// the same millisecond, that is the script's `now` exactly.
    struct Bracket {
        var before: Int64, after: Int64
        var exact: Bool { before / 1000 == after / 1000 }
        /// Every millisecond the script may have taken as `now`.
        var candidates: [Int64] { Array((before / 1000)...max(before / 1000, min(after / 1000, before / 1000 + 5))) }
    }

    /// Runs `operation` by EVALSHA between two TIMEs, in one pipeline; the
    /// bracket and the script's reply. Reloads and retries once on NOSCRIPT
    /// (another suite may flush the script cache).
    func run(_ operation: LockOperation, keys: [[UInt8]], arguments: [[UInt8]]) throws -> (Bracket, RedisReply) {
        let evalsha = [Array("EVALSHA"), Array(scripts[operation].sha1.utf8), Array("\(keys.count)".utf8)] + keys + arguments
        for attempt in 0..<2 {
            try startEarlyInAMillisecond()
            let replies = try connection.pipeline([[Array("TIME")], evalsha, [Array("TIME")]])
            if attempt == 0, case .error(let text) = replies[1], text.hasPrefix("NOSCRIPT") {
                try load()
                continue
            }
            guard let before = DifferentialRunner.micros(replies[0]), let after = DifferentialRunner.micros(replies[2]) else {
                throw SetupError("TIME answered \(replies[0]), \(replies[2])")
            }
            return (Bracket(before: before, after: after), normalized(mockReply(replies[1])))
        }
        throw SetupError("EVALSHA of \(operation.rawValue).lua answered NOSCRIPT right after SCRIPT LOAD")
    }
}

/// One schedule run on both sides in lockstep.
struct ScheduleReplay {
    let config: ExplorationConfig
    let scripts: LockScripts
    let server: ReplayServer
    /// The server's keys: the lock's keys under this schedule's own name.
    let serverKeys: [[UInt8]]
    let engine = ScriptEngine(instructionBudget: 200_000)

    var world: World
    /// The server side's own record of who holds what, and its clients' views.
    /// The server's clock is known to the millisecond only (see Oracle).
    var serverOracle = Oracle(clockResolutionMicros: 1000)
    var serverClients: [ClientState]
    var rows: [String] = []

    var calls = 0, lostReplies = 0, crashes = 0, inexactSteps = 0
    var byOperation: [LockOperation: (calls: Int, ones: Int)] = [:]
    var maxMsDrift: Int64 = 0, maxFenceDriftMicros: Int64 = 0

    init(config: ExplorationConfig, scripts: LockScripts, server: ReplayServer, lockName: String) {
        self.config = config
        self.scripts = scripts
        self.server = server
        serverKeys = World.keys.map { key in
            Array(String(decoding: key, as: UTF8.self).replacingOccurrences(of: "{\(World.lockName)}", with: "{\(lockName)}").utf8)
        }
        world = World(clientCount: config.clients.count)
        serverClients = Array(repeating: ClientState(), count: config.clients.count)
    }

    /// A random schedule as the explorer draws it (`Explorer.randomAction`,
    /// seeded), minus time jumps: each drawn jump is dropped and the next
    /// action drawn. Generated on a mock world of its own; with leases this
    /// long the replay's clients take the same paths.
    static func generate(_ config: ExplorationConfig, seed: UInt64, steps: Int, scripts: LockScripts) -> [Action] {
        var generator = ScriptCheck.SplitMix64(seed: seed)
        let engine = ScriptEngine(instructionBudget: 200_000)
        var world = World(clientCount: config.clients.count)
        var actions: [Action] = []
        for _ in 0..<(steps * 20) where actions.count < steps {
            // Once every client has crashed, only time jumps are left.
            if world.clients.allSatisfy(\.crashed) { break }
            let action = Explorer.randomAction(world, config: config, generator: &generator)
            if case .advance = action { continue }
            _ = world.apply(action, scripts: scripts, engine: engine, config: config)
            actions.append(action)
        }
        return actions
    }

    /// Replays `actions`; nil when both sides agreed throughout and neither
    /// oracle saw a violation, else what went wrong.
    mutating func run(_ actions: [Action]) throws -> String? {
        for action in actions {
            if let failure = try step(action) { return failure }
        }
        return try finish()
    }

    private mutating func step(_ action: Action) throws -> String? {
        guard case .call(let client, let operation, let lost) = action else {
            if case .crash = action { crashes += 1 }
            // Crashes and giving up change only the clients' own views.
            let (record, violation) = world.apply(action, scripts: scripts, engine: engine, config: config)
            applyToServerClients(action)
            rows.append(row(record, server: nil))
            return violation.map { "mock side: \($0)" }
        }
        let spec = config.clients[client]
        let token = world.clients[client].token(of: client)
        let serverToken = serverClients[client].token(of: client)
        guard token == serverToken, !world.clients[client].crashed else {
            return "the clients' views diverged: mock token \(token), server token \(serverToken)"
        }
        let arguments = World.arguments(operation, token: token, spec: spec, config: config)
        let (bracket, serverReply) = try server.run(operation, keys: serverKeys, arguments: arguments)
        // The mock's clock follows the server's, read just before the call.
        world.redis.nowMicros = bracket.before
        if !bracket.exact { inexactSteps += 1 }
        let (record, mockViolation) = world.apply(action, scripts: scripts, engine: engine, config: config)
        rows.append(row(record, server: serverReply))
        calls += 1
        if lost { lostReplies += 1 }
        let mockReply = record.reply ?? .null
        let counts = byOperation[operation] ?? (0, 0)
        byOperation[operation] = (counts.calls + 1, counts.ones + (Oracle.integers(mockReply).first == 1 ? 1 : 0))

        if let mockViolation { return "mock side: \(mockViolation)" }
        if let difference = compare(operation, mock: mockReply, server: serverReply) {
            return "step \(rows.count): \(operation.rawValue)(\(token)) replies differ: \(difference)\n"
                + "  mock:   \(describe(mockReply))\n  server: \(describe(serverReply))"
        }
        if let violation = World.hygiene(ScriptRun(reply: serverReply, problems: [], commands: []), operation: operation, scripts: scripts) {
            return "server side, step \(rows.count): \(violation)"
        }
        // The oracle needs the script's own `now`; when the bracket spans two
        // milliseconds, any of them will do that explains the reply (a real
        // violation shows whichever is taken, a 1 ms artefact does not).
        var firstViolation: Violation?
        for now in bracket.candidates {
            var oracle = serverOracle
            if let violation = oracle.record(operation, token: token, spec: spec, reply: serverReply, nowMicros: now * 1000, config: config)
                ?? oracle.checkExclusion(at: now) {
                firstViolation = firstViolation ?? violation
            } else {
                serverOracle = oracle
                firstViolation = nil
                break
            }
        }
        if let firstViolation {
            return "server side, step \(rows.count) (script time \(bracket.candidates.map(String.init).joined(separator: " or ")) ms): \(firstViolation)"
        }
        if !lost { serverClients[client].learn(from: operation, reply: serverReply) }
        return nil
    }

    private mutating func applyToServerClients(_ action: Action) {
        switch action {
        case .crash(let client): serverClients[client].crashed = true
        case .giveUp(let client):
            serverClients[client].phase = .idle
            serverClients[client].attempt += 1
        default: break
        }
    }

    /// After the last step: inspect must agree, the lock's keys must agree
    /// (types, members, tokens; expiry set on every one of them: S5), and the
    /// mock's liveness probe must pass.
    private mutating func finish() throws -> String? {
        let (bracket, serverInspect) = try server.run(.inspect, keys: serverKeys, arguments: [])
        world.redis.nowMicros = bracket.before
        let mockInspect = world.run(.inspect, arguments: [], scripts: scripts, engine: engine).reply
        if let difference = compare(.inspect, mock: mockInspect, server: serverInspect) {
            return "final inspect differs: \(difference)\n  mock:   \(describe(mockInspect))\n  server: \(describe(serverInspect))"
        }
        let serverKeyspace = try server.connection.canonicalKeyspace()
        let mockKeyspace = world.redis.canonicalKeyspace()
        for (index, (mockKey, serverKey)) in zip(World.keys, serverKeys).dropLast().enumerated() {
            let name = String(decoding: serverKey, as: UTF8.self)
            if let key = serverKeyspace[serverKey], !key.hasTTL {
                return "server side: S5 key \(name) has no expiry"
            }
            let mockShape = keyShape(mockKeyspace[mockKey], index: index)
            let serverShape = keyShape(serverKeyspace[serverKey], index: index)
            if mockShape != serverShape {
                return "final key \(name) differs: mock \(mockShape), server \(serverShape)"
            }
        }
        if let violation = world.probe(scripts: scripts, engine: engine, config: config) {
            return "mock side, final probe: \(violation)"
        }
        return nil
    }

    /// A key with what depends on the clock left out: scores and numbers
    /// (deadlines, fences) become "number"; reader, cap and intent sets are
    /// compared as sets (equal deadlines sort by member, and two clocks a
    /// millisecond apart may tie differently); the queue keeps its order
    /// (arrival µs, strictly increasing on both sides).
    private func keyShape(_ key: CanonicalKey?, index: Int) -> String {
        guard let key else { return "(absent)" }
        func text(_ bytes: [UInt8]) -> String {
            let value = String(decoding: bytes, as: UTF8.self)
            return Int64(value) != nil ? (value == "0" ? "0" : "number") : value
        }
        let value: String
        switch key.value {
        case .string(let bytes): value = text(bytes)
        case .hash(let fields):
            value = fields.map { "\(text($0.key))=\(text($0.value))" }.sorted().joined(separator: ",")
        case .zset(let items):
            var members = stride(from: 0, to: items.count, by: 2).map { String(decoding: items[$0], as: UTF8.self) }
            if index != 3 { members.sort() }
            value = members.joined(separator: ",")
        case .set(let members): value = members.map { String(decoding: $0, as: UTF8.self) }.sorted().joined(separator: ",")
        case .unknown(let type): value = type
        }
        return "\(key.type) [\(value)]\(key.hasTTL ? " with expiry" : "")"
    }

    /// Where two replies of `operation` differ beyond what two clocks a
    /// moment apart explain; nil when they agree.
    private mutating func compare(_ operation: LockOperation, mock: RedisReply, server: RedisReply) -> String? {
        // Per field of an array reply: exact, remaining ms, or a fence.
        enum Field { case exact, milliseconds, fence }
        let fields: [Field]
        switch operation {
        case .acquireRead: fields = [.exact, .milliseconds, .exact]
        case .acquireWrite:
            // {1, lease_ms, fence} or {0, wait_ms, position, arrival}: the
            // arrival is server µs, compared as a fence is.
            let granted = Oracle.integers(mock).first == 1
            fields = granted ? [.exact, .milliseconds, .fence] : [.exact, .milliseconds, .exact, .fence]
        case .renew, .downgrade: fields = [.exact, .milliseconds]
        case .release, .withdraw: fields = []
        case .inspect: return compareInspect(mock: mock, server: server)
        }
        guard case .array(let mockItems) = mock, case .array(let serverItems) = server else {
            return mock == server ? nil : "different replies"
        }
        guard mockItems.count == fields.count, serverItems.count == fields.count else { return "different shapes" }
        for (index, field) in fields.enumerated() {
            guard case .integer(let a) = mockItems[index], case .integer(let b) = serverItems[index] else {
                return "field \(index + 1) is not an integer on both sides"
            }
            if let problem = compare(a, b, as: field) { return "field \(index + 1): \(problem)" }
        }
        return nil

        func compare(_ a: Int64, _ b: Int64, as field: Field) -> String? {
            switch field {
            case .exact:
                return a == b ? nil : "\(a) ≠ \(b)"
            case .milliseconds:
                maxMsDrift = max(maxMsDrift, abs(a - b))
                return (a > 0) == (b > 0) && abs(a - b) <= RealRedisReplayProperties.msTolerance ? nil : "\(a) ms vs \(b) ms"
            case .fence:
                maxFenceDriftMicros = max(maxFenceDriftMicros, abs(a - b))
                return a > 0 && b > 0 && abs(a - b) <= RealRedisReplayProperties.fenceToleranceMicros ? nil : "fences \(a) and \(b) are too far apart"
            }
        }
    }

    /// inspect: {writer, writer ms left, writer fence, last fence,
    /// {reader, ms, ...}, {waiting writer, ms, ...}}.
    private mutating func compareInspect(mock: RedisReply, server: RedisReply) -> String? {
        guard case .array(let a) = mock, case .array(let b) = server, a.count == 6, b.count == 6 else {
            return "different shapes"
        }
        if a[0] != b[0] { return "writers differ" }
        guard case .integer(let leftA) = a[1], case .integer(let leftB) = b[1],
              abs(leftA - leftB) <= RealRedisReplayProperties.msTolerance else { return "writer leases differ" }
        for index in 2...3 {
            guard case .integer(let x) = a[index], case .integer(let y) = b[index], (x == 0) == (y == 0),
                  abs(x - y) <= RealRedisReplayProperties.fenceToleranceMicros else { return "fences differ (field \(index + 1))" }
        }
        func pairs(_ reply: RedisReply) -> [(String, Int64)]? {
            guard case .array(let items) = reply, items.count % 2 == 0 else { return nil }
            return stride(from: 0, to: items.count, by: 2).compactMap { index in
                guard case .bulk(let token) = items[index], case .integer(let ms) = items[index + 1] else { return nil }
                return (String(decoding: token, as: UTF8.self), ms)
            }
        }
        for (index, ordered) in [(4, false), (5, true)] {
            guard var x = pairs(a[index]), var y = pairs(b[index]), x.count == y.count else { return "field \(index + 1) differs" }
            if !ordered { x.sort { $0.0 < $1.0 }; y.sort { $0.0 < $1.0 } }
            for (p, q) in zip(x, y) where p.0 != q.0 || abs(p.1 - q.1) > RealRedisReplayProperties.msTolerance {
                return "field \(index + 1) differs"
            }
        }
        return nil
    }

    private func row(_ record: StepRecord, server: RedisReply?) -> String {
        let (client, operation) = Timeline.describe(record.action, token: record.token, config: config)
        var text = "\(client): \(operation)"
        if let reply = record.reply { text += "  mock \(Timeline.describe(reply))" }
        if let server { text += "  server \(Timeline.describe(server))" }
        return text + "  [\(record.oracleView)]"
    }

    /// The replayed steps, for a failure report.
    func listing() -> String {
        rows.enumerated().map { "  \($0.offset + 1). \($0.element)" }.joined(separator: "\n")
    }
}
