import Dispatch
import Foundation
import Synchronization

/// How hard the checker looks at each mutant: a budget well below the
/// default run's, so one mutant takes about a second in a release build.
public struct MutationOptions: Sendable {
    public var seed: UInt64
    public var runs: Int
    public var stepsPerRun: Int
    public var depth: Int
    /// Worker threads, each running its own `Checker.run`.
    public var threads: Int

    public init(seed: UInt64 = 1, runs: Int = 150, stepsPerRun: Int = 100, depth: Int = 5, threads: Int = 2) {
        self.seed = seed
        self.runs = runs
        self.stepsPerRun = stepsPerRun
        self.depth = depth
        self.threads = max(1, threads)
    }

    var checkOptions: CheckOptions { CheckOptions(seed: seed, runs: runs, stepsPerRun: stepsPerRun, depth: depth) }
}

/// What the checker made of one mutant.
public struct MutantOutcome: Sendable {
    public var mutant: Mutant
    /// Killed: lint reported an error or an invariant was violated.
    public var killed: Bool
    /// `lint`, or the violated invariant (`S1`…`S7`, `CAP`); nil for a survivor.
    public var killedBy: String?
    /// The first lint finding or the violation's message.
    public var detail: String
    /// The exploration phase that found it (`exhaustive`, `random`, `foreign-state`, `least-privilege`, `lint`).
    public var phase: String?
    public var seconds: Double
}

/// A whole mutation run: the unmutated baseline and every mutant's outcome.
public struct MutationRun: Sendable {
    public var directory: String
    public var options: MutationOptions
    /// The checker's verdict on the unmutated scripts, with the same budget.
    public var baseline: CheckReport
    public var outcomes: [MutantOutcome]
    /// Wall-clock seconds for the whole run, baseline included.
    public var seconds: Double

    public var total: Int { outcomes.count }
    public var killed: Int { outcomes.filter(\.killed).count }
    public var survivors: [MutantOutcome] { outcomes.filter { !$0.killed } }
    /// killed / total, in percent (100 when there are no mutants).
    public var score: Double { total == 0 ? 100 : Double(killed) * 100 / Double(total) }
}

/// Runs the checker on every mutant, in parallel on `options.threads`
/// threads.
///
/// Thread safety: each worker builds its own `LockScripts` (a value) and
/// calls `Checker.run`, which creates every engine object it uses (Explorer,
/// ScriptEngine with its own Lua state, MockRedis values) and drops them when
/// it returns; Lua 5.1 keeps no global state across `lua_State`s, and what
/// ScriptCheck shares between runs is immutable (`static let` tables). The
/// only shared mutable state here, the work queue and the results, sits
/// behind a `Mutex`.
public enum MutationRunner {
    public static func run(sources: [LockOperation: [UInt8]], directory: String, mutants: [Mutant],
                           options: MutationOptions,
                           progress: (@Sendable (_ outcome: MutantOutcome, _ done: Int, _ total: Int) -> Void)? = nil) -> MutationRun {
        let started = ContinuousClock.now
        let baseline = Checker.run(LockScripts(sources: sources, directory: directory), options: options.checkOptions)
        let shared = SharedQueue(count: mutants.count)
        let work: @Sendable (Int) -> Void = { _ in
            while let index = shared.next() {
                let outcome = check(mutants[index], sources: sources, directory: directory, options: options)
                shared.finish(index, outcome, progress: progress)
            }
        }
        if options.threads == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: min(options.threads, max(1, mutants.count)), execute: work)
        }
        return MutationRun(directory: directory, options: options, baseline: baseline,
                           outcomes: shared.results(), seconds: seconds(since: started))
    }

    /// Runs the checker on the script set with `mutant`'s one file replaced.
    public static func check(_ mutant: Mutant, sources: [LockOperation: [UInt8]], directory: String,
                             options: MutationOptions) -> MutantOutcome {
        let started = ContinuousClock.now
        var mutated = sources
        mutated[mutant.operation] = mutant.source
        let report = Checker.run(LockScripts(sources: mutated, directory: directory), options: options.checkOptions)
        var outcome = MutantOutcome(mutant: mutant, killed: report.exitCode != 0, killedBy: nil, detail: "",
                                    phase: nil, seconds: seconds(since: started))
        if let finding = report.lint.first {
            outcome.killedBy = "lint"
            outcome.phase = "lint"
            outcome.detail = finding.description
        } else if let counterexample = report.counterexample {
            outcome.killedBy = counterexample.violation.invariant
            outcome.phase = counterexample.phase
            outcome.detail = counterexample.violation.message
        }
        return outcome
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// The workers' shared queue and results.
private final class SharedQueue: Sendable {
    private struct State {
        var nextIndex = 0
        var done = 0
        var outcomes: [MutantOutcome?]
    }

    private let state: Mutex<State>
    private let count: Int

    init(count: Int) {
        self.count = count
        state = Mutex(State(outcomes: Array(repeating: nil, count: count)))
    }

    /// The next mutant to check, or nil when all are taken.
    func next() -> Int? {
        state.withLock { state in
            guard state.nextIndex < count else { return nil }
            defer { state.nextIndex += 1 }
            return state.nextIndex
        }
    }

    /// Records an outcome; progress is reported under the lock, so lines
    /// from the two workers never interleave.
    func finish(_ index: Int, _ outcome: MutantOutcome,
                progress: (@Sendable (MutantOutcome, Int, Int) -> Void)?) {
        state.withLock { state in
            state.outcomes[index] = outcome
            state.done += 1
            progress?(outcome, state.done, count)
        }
    }

    /// Outcomes in enumeration order.
    func results() -> [MutantOutcome] { state.withLock { $0.outcomes.compactMap { $0 } } }
}
