import Foundation
import Synchronization

/// What a search covered, for the report.
public struct Coverage: Hashable, Sendable {
    public var states = 0
    public var schedules = 0
    public var steps = 0
    public var scriptRuns = 0
    public var lostReplies = 0
    public var crashes = 0
    public var timeJumps = 0
    public var probes = 0

    mutating func add(_ other: Coverage) {
        states += other.states
        schedules += other.schedules
        steps += other.steps
        scriptRuns += other.scriptRuns
        lostReplies += other.lostReplies
        crashes += other.crashes
        timeJumps += other.timeJumps
        probes += other.probes
    }

    mutating func count(_ action: Action) {
        steps += 1
        switch action {
        case .call(_, _, let lost):
            scriptRuns += 1
            if lost { lostReplies += 1 }
        case .crash: crashes += 1
        case .advance: timeJumps += 1
        case .giveUp: break
        }
    }
}

/// Drives the lock's real scripts through schedules, checking the oracle
/// after every step: an exhaustive bounded search of a small scope, and
/// seeded random schedules of a wider one.
public final class Explorer {
    let scripts: LockScripts
    let engine: ScriptEngine
    public private(set) var coverage = Coverage()

    public init(scripts: LockScripts, instructionBudget: Int = 200_000) {
        self.scripts = scripts
        self.engine = ScriptEngine(instructionBudget: instructionBudget)
    }

    /// Every schedule up to `config.depth` steps, searched depth-first on
    /// `threads` threads that share one table of visited states: a state
    /// already explored with at least as many steps left is pruned.
    /// - Parameters:
    ///   - config: the scope: clients, depth, time jumps, faults.
    ///   - stateLimit: stop after this many distinct states.
    ///   - threads: how many threads search at once.
    public func exhaustive(_ config: ExplorationConfig, stateLimit: Int = 2_000_000, threads: Int = 2) -> Counterexample? {
        let shared = SearchBoard()
        // Split the tree two steps down so the threads share the work evenly.
        var frontier: [SearchItem] = [SearchItem(world: World(clientCount: config.clients.count), path: [])]
        for _ in 0..<min(2, config.depth) {
            var next: [SearchItem] = []
            for item in frontier {
                if let violation = visit(item.world, remaining: config.depth - item.path.count, path: item.path,
                                         config: config, shared: shared, stateLimit: stateLimit) {
                    return counterexample(violation, item.path, config: config, seed: 0, phase: "exhaustive")
                }
                for action in item.world.enabledActions(config) {
                    var world = item.world
                    let (_, violation) = world.apply(action, scripts: scripts, engine: engine, config: config)
                    coverage.count(action)
                    if let violation {
                        return counterexample(violation, item.path + [action], config: config, seed: 0, phase: "exhaustive")
                    }
                    next.append(SearchItem(world: world, path: item.path + [action]))
                }
            }
            frontier = next
        }
        let work = frontier
        let scripts = self.scripts
        let group = DispatchGroup()
        for _ in 0..<max(1, threads) {
            group.enter()
            Thread {
                let worker = Explorer(scripts: scripts)
                while let index = shared.state.withLock({ state -> Int? in
                    guard state.found == nil, state.next < work.count else { return nil }
                    defer { state.next += 1 }
                    return state.next
                }) {
                    worker.search(work[index].world, remaining: config.depth - work[index].path.count,
                                  path: work[index].path, config: config, shared: shared, stateLimit: stateLimit)
                }
                let covered = worker.coverage
                shared.state.withLock { $0.coverage.add(covered) }
                group.leave()
            }.start()
        }
        group.wait()
        let (found, covered) = shared.state.withLock { ($0.found, $0.coverage) }
        coverage.add(covered)
        guard let (violation, actions) = found else { return nil }
        return counterexample(violation, actions, config: config, seed: 0, phase: "exhaustive")
    }

    /// Marks `world` visited; probes it when new. Returns a violation the
    /// probe found, or nil; sets nothing else.
    private func visit(_ world: World, remaining: Int, path: [Action], config: ExplorationConfig,
                       shared: SearchBoard, stateLimit: Int) -> Violation? {
        let hash = world.canonicalHash()
        let isNew = shared.state.withLock { state -> Bool? in
            guard state.found == nil, state.visited.count < stateLimit else { return nil }
            if let seen = state.visited[hash], Int(seen) >= remaining { return nil }
            let new = state.visited[hash] == nil
            state.visited[hash] = Int8(remaining)
            return new
        }
        guard let isNew else { return Self.pruned }
        guard isNew else { return nil }
        coverage.states += 1
        coverage.probes += 1
        return world.probe(scripts: scripts, engine: engine, config: config, inspecting: remaining == 0)
    }

    /// Sentinel from `visit`: explored before with as many steps left.
    private static let pruned = Violation(invariant: "", message: "pruned")

    private func search(_ world: World, remaining: Int, path: [Action], config: ExplorationConfig,
                        shared: SearchBoard, stateLimit: Int) {
        if let violation = visit(world, remaining: remaining, path: path, config: config, shared: shared, stateLimit: stateLimit) {
            if violation != Self.pruned { shared.state.withLock { $0.report(violation, path) } }
            return
        }
        guard remaining > 0 else {
            coverage.schedules += 1
            return
        }
        for action in world.enabledActions(config) {
            var next = world
            let (_, violation) = next.apply(action, scripts: scripts, engine: engine, config: config)
            coverage.count(action)
            if let violation {
                shared.state.withLock { $0.report(violation, path + [action]) }
                return
            }
            search(next, remaining: remaining - 1, path: path + [action], config: config, shared: shared, stateLimit: stateLimit)
            if shared.state.withLock({ $0.found != nil }) { return }
        }
    }

    /// `runs` random schedules of `steps` steps each, from `seed`; a probe
    /// for S5 ends every schedule.
    public func random(_ config: ExplorationConfig, seed: UInt64, runs: Int, steps: Int) -> Counterexample? {
        var generator = SplitMix64(seed: seed)
        for _ in 0..<runs {
            if let example = randomSchedule(config, seed: generator.next(), steps: steps) { return example }
        }
        return nil
    }

    /// One random schedule; reproducible from its own seed.
    public func randomSchedule(_ config: ExplorationConfig, seed: UInt64, steps: Int) -> Counterexample? {
        var generator = SplitMix64(seed: seed)
        var world = World(clientCount: config.clients.count)
        var actions: [Action] = []
        coverage.schedules += 1
        for _ in 0..<steps {
            let action = Explorer.randomAction(world, config: config, generator: &generator)
            actions.append(action)
            let (_, violation) = world.apply(action, scripts: scripts, engine: engine, config: config)
            coverage.count(action)
            if let violation {
                return counterexample(violation, actions, config: config, seed: seed, phase: "random")
            }
        }
        coverage.probes += 1
        if let violation = world.probe(scripts: scripts, engine: engine, config: config) {
            return counterexample(violation, actions, config: config, seed: seed, phase: "random")
        }
        return nil
    }

    static func randomAction(_ world: World, config: ExplorationConfig, generator: inout SplitMix64) -> Action {
        let roll = generator.next() % 100
        let living = world.clients.indices.filter { !world.clients[$0].crashed }
        if roll < 18 || living.isEmpty {
            let choices: [Int64] = [1, config.leaseMs / 4, config.leaseMs / 2, config.leaseMs - 1, config.leaseMs, config.leaseMs + 1, config.intentMs + 1]
            return .advance(milliseconds: max(1, choices[Int(generator.next() % UInt64(choices.count))]))
        }
        let client = living[Int(generator.next() % UInt64(living.count))]
        if config.faults, roll < 20 { return .crash(client: client) }
        let state = world.clients[client]
        if state.phase == .waiting, config.clients[client].role == .reader, roll < 24 { return .giveUp(client: client) }
        let operations = state.operations(for: config.clients[client].role)
        let operation = operations[Int(generator.next() % UInt64(operations.count))]
        let lost = config.faults && generator.next() % 100 < 8
        return .call(client: client, operation: operation, lostReply: lost)
    }

    /// Replays `actions` from the start; the first violation, if any, and
    /// the records of every step up to it (a probe runs after the last step).
    /// Steps a client could not take from where it believes it is (left
    /// over after the shrinker dropped what led there) are skipped, so every
    /// timeline shows calls a real client would make.
    func replay(_ actions: [Action], config: ExplorationConfig) -> (Violation?, [StepRecord]) {
        var world = World(clientCount: config.clients.count)
        var records: [StepRecord] = []
        for action in actions where world.allows(action, config) {
            let (record, violation) = world.apply(action, scripts: scripts, engine: engine, config: config)
            records.append(record)
            if let violation { return (violation, records) }
        }
        return (world.probe(scripts: scripts, engine: engine, config: config), records)
    }

    private func counterexample(_ violation: Violation, _ actions: [Action], config: ExplorationConfig,
                                seed: UInt64, phase: String) -> Counterexample {
        let shrunk = Shrinker.shrink(actions, invariant: violation.invariant) { replay($0, config: config).0 }
        let (finalViolation, records) = replay(shrunk, config: config)
        return Counterexample(violation: finalViolation ?? violation, actions: records.map(\.action), steps: records,
                              seed: seed, phase: phase, config: config)
    }
}

/// SplitMix64: small, fast, and the same sequence on every platform, so a
/// printed seed reproduces a schedule anywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One subtree root of the parallel search.
struct SearchItem: Sendable {
    var world: World
    var path: [Action]
}

/// The shared state's home: a `Mutex` cannot be copied into each thread,
/// so the threads share this object, which holds it.
final class SearchBoard: Sendable {
    let state = Mutex(SharedSearch())
}

/// What the search threads share: visited states, the next subtree to
/// take, the first violation found, and their coverage.
struct SharedSearch: Sendable {
    var visited: [Int: Int8] = [:]
    var next = 0
    var found: (Violation, [Action])?
    var coverage = Coverage()

    /// Keeps the shortest schedule when both threads find one.
    mutating func report(_ violation: Violation, _ path: [Action]) {
        if let (_, existing) = found, existing.count <= path.count { return }
        found = (violation, path)
    }
}
