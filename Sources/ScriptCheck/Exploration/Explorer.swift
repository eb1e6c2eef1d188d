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
    /// Script runs (of `scriptRuns` and the probes') served from the run
    /// memo instead of run again: the same script on the same state.
    public var memoHits = 0

    mutating func add(_ other: Coverage) {
        states += other.states
        schedules += other.schedules
        steps += other.steps
        scriptRuns += other.scriptRuns
        lostReplies += other.lostReplies
        crashes += other.crashes
        timeJumps += other.timeJumps
        probes += other.probes
        memoHits += other.memoHits
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
    /// The memo of script runs (see `RunMemo`), shared with the threads
    /// this explorer starts.
    let memo: RunMemo?
    private let ownsMemo: Bool
    /// What this explorer covered, its memo's hits included.
    public var coverage: Coverage {
        var total = counted
        if ownsMemo, let memo { total.memoHits += memo.hits }
        return total
    }
    private var counted = Coverage()

    /// - Parameters:
    ///   - scripts: the lock's scripts.
    ///   - instructionBudget: VM instructions one script run may execute.
    ///   - memoizing: serve repeated runs from a memo (see `RunMemo`); off
    ///     only to show that the memo changes no finding.
    public init(scripts: LockScripts, instructionBudget: Int = 200_000, memoizing: Bool = true) {
        self.scripts = scripts
        self.engine = ScriptEngine(instructionBudget: instructionBudget)
        self.memo = memoizing ? RunMemo() : nil
        self.ownsMemo = true
    }

    /// A search thread's explorer: an engine of its own, its parent's memo.
    private init(scripts: LockScripts, sharing memo: RunMemo?, instructionBudget: Int) {
        self.scripts = scripts
        self.engine = ScriptEngine(instructionBudget: instructionBudget)
        self.memo = memo
        self.ownsMemo = false
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
                    let (_, violation) = world.apply(action, scripts: scripts, engine: engine, config: config,
                                                     memo: memo, recording: false)
                    counted.count(action)
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
        let memo = self.memo
        let budget = engine.instructionBudget
        Explorer.onThreads(threads) {
            let worker = Explorer(scripts: scripts, sharing: memo, instructionBudget: budget)
            while let index = shared.state.withLock({ state -> Int? in
                guard state.found == nil, state.next < work.count else { return nil }
                defer { state.next += 1 }
                return state.next
            }) {
                var path = work[index].path
                worker.search(work[index].world, remaining: config.depth - path.count,
                              path: &path, config: config, shared: shared, stateLimit: stateLimit)
            }
            let covered = worker.coverage
            shared.state.withLock { $0.coverage.add(covered) }
        }
        let (found, covered) = shared.state.withLock { ($0.found, $0.coverage) }
        counted.add(covered)
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
        counted.states += 1
        counted.probes += 1
        return world.probe(scripts: scripts, engine: engine, config: config, inspecting: remaining == 0, memo: memo)
    }

    /// Sentinel from `visit`: explored before with as many steps left.
    private static let pruned = Violation(invariant: "", message: "pruned")

    /// `path` is the schedule so far: extended in place and restored on
    /// return, so no step copies it.
    private func search(_ world: World, remaining: Int, path: inout [Action], config: ExplorationConfig,
                        shared: SearchBoard, stateLimit: Int) {
        if let violation = visit(world, remaining: remaining, path: path, config: config, shared: shared, stateLimit: stateLimit) {
            if violation != Self.pruned { shared.state.withLock { $0.report(violation, path) } }
            return
        }
        guard remaining > 0 else {
            counted.schedules += 1
            return
        }
        for action in world.enabledActions(config) {
            var next = world
            let (_, violation) = next.apply(action, scripts: scripts, engine: engine, config: config,
                                            memo: memo, recording: false)
            counted.count(action)
            path.append(action)
            defer { path.removeLast() }
            if let violation {
                shared.state.withLock { $0.report(violation, path) }
                return
            }
            search(next, remaining: remaining - 1, path: &path, config: config, shared: shared, stateLimit: stateLimit)
            if shared.state.withLock({ $0.found != nil }) { return }
        }
    }

    /// `runs` random schedules of `steps` steps each, from `seed`; a probe
    /// for S5 ends every schedule. They run on `threads` threads, and the
    /// schedule reported is always the first failing one in seed order, so
    /// a seed reproduces the same counterexample however the threads raced.
    public func random(_ config: ExplorationConfig, seed: UInt64, runs: Int, steps: Int, threads: Int = 2) -> Counterexample? {
        var generator = SplitMix64(seed: seed)
        let seeds = (0..<max(0, runs)).map { _ in generator.next() }
        let board = RandomBoard()
        let scripts = self.scripts
        let budget = engine.instructionBudget
        Explorer.onThreads(threads) {
            let worker = Explorer(scripts: scripts, instructionBudget: budget)
            while let index = board.state.withLock({ state -> Int? in
                guard state.next < seeds.count, state.next < (state.found?.index ?? Int.max) else { return nil }
                defer { state.next += 1 }
                return state.next
            }) {
                if let example = worker.randomSchedule(config, seed: seeds[index], steps: steps) {
                    board.state.withLock { state in
                        if index < (state.found?.index ?? Int.max) { state.found = (index, example) }
                    }
                }
            }
            let covered = worker.coverage
            board.state.withLock { $0.coverage.add(covered) }
        }
        let (found, covered) = board.state.withLock { ($0.found, $0.coverage) }
        counted.add(covered)
        return found?.example
    }

    /// Runs `body` on `count` threads of their own (at least one) and waits
    /// for all of them: each search thread builds its own engine, since a
    /// Lua state is not thread-safe.
    private static func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
        let group = DispatchGroup()
        for _ in 0..<max(1, count) {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        group.wait()
    }

    /// One random schedule; reproducible from its own seed.
    public func randomSchedule(_ config: ExplorationConfig, seed: UInt64, steps: Int) -> Counterexample? {
        var generator = SplitMix64(seed: seed)
        var world = World(clientCount: config.clients.count)
        var actions: [Action] = []
        counted.schedules += 1
        for _ in 0..<steps {
            let action = Explorer.randomAction(world, config: config, generator: &generator)
            actions.append(action)
            // No memo: random schedules rarely meet the same state twice.
            let (_, violation) = world.apply(action, scripts: scripts, engine: engine, config: config, recording: false)
            counted.count(action)
            if let violation {
                return counterexample(violation, actions, config: config, seed: seed, phase: "random")
            }
        }
        counted.probes += 1
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

/// What the random phase's threads share: the next schedule to run, the
/// first failing one by index, and their coverage.
final class RandomBoard: Sendable {
    let state = Mutex(RandomSearch())
}

struct RandomSearch: Sendable {
    var next = 0
    var found: (index: Int, example: Counterexample)?
    var coverage = Coverage()
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
