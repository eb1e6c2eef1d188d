import Foundation

/// How much `script-check` searches.
public struct CheckOptions: Sendable {
    public var seed: UInt64
    /// Random schedules to run.
    public var runs: Int
    /// Steps per random schedule.
    public var stepsPerRun: Int
    /// Depth of the exhaustive search.
    public var depth: Int
    public var exhaustive: ExplorationConfig
    public var random: ExplorationConfig
    /// Stop the exhaustive search after this many distinct states.
    public var stateLimit: Int

    public init(seed: UInt64, runs: Int = 1_000, stepsPerRun: Int = 100, depth: Int = 10,
                exhaustive: ExplorationConfig = .exhaustiveDefault, random: ExplorationConfig = .randomDefault,
                stateLimit: Int = 2_000_000) {
        self.seed = seed
        self.runs = runs
        self.stepsPerRun = stepsPerRun
        self.depth = depth
        self.exhaustive = exhaustive
        self.exhaustive.depth = depth
        self.random = random
        self.stateLimit = stateLimit
    }
}

/// Everything one check found and covered.
public struct CheckReport: Sendable {
    public var directory: String
    public var seed: UInt64
    public var lint: [LintFinding] = []
    public var counterexample: Counterexample?
    public var exhaustive = Coverage()
    public var random = Coverage()
    public var foreignStatesChecked = 0
    /// What the least-privilege check (R6) covered; zero when it did not run.
    public var leastPrivilege = LeastPrivilegeCoverage()
    public var seconds: Double = 0
    public var peakMemoryBytes: Int = 0
    public var depth: Int
    public var runs: Int

    /// 0 when clean, 1 when a lint error or a violation was found.
    public var exitCode: Int32 { lint.isEmpty && counterexample == nil ? 0 : 1 }
}

/// The pipeline `script-check` runs: lint, then the checks of one call on a
/// prepared state (corrupted keys, bad arguments), then exhaustive
/// exploration of a small scope, then the least-privilege check (R6), then
/// seeded random schedules. It stops at the first finding.
public enum Checker {
    public static func run(_ scripts: LockScripts, options: CheckOptions) -> CheckReport {
        let started = ContinuousClock.now
        var report = CheckReport(directory: scripts.directory, seed: options.seed, depth: options.depth, runs: options.runs)
        report.lint = Linter.lint(scripts)
        if report.lint.isEmpty {
            let explorer = Explorer(scripts: scripts)
            if let violation = ForeignState.check(scripts: scripts, engine: explorer.engine, config: options.exhaustive)
                ?? BadArguments.check(scripts: scripts, engine: explorer.engine, config: options.exhaustive) {
                report.counterexample = Counterexample(violation: violation, actions: [], steps: [], seed: options.seed,
                                                       phase: "foreign-state", config: options.exhaustive)
            }
            report.foreignStatesChecked = ForeignState.stateCount
            if report.counterexample == nil {
                report.counterexample = explorer.exhaustive(options.exhaustive, stateLimit: options.stateLimit)
            }
            // A second pass with one lost acquire reply (a duplicated call)
            // per schedule, two steps shallower: the fault multiplies the tree.
            if report.counterexample == nil, options.depth >= 2 {
                var lossy = options.exhaustive
                lossy.depth = options.depth - 2
                lossy.maxLostReplies = 1
                report.counterexample = explorer.exhaustive(lossy, stateLimit: options.stateLimit)
            }
            report.counterexample?.seed = options.seed
            report.exhaustive = explorer.coverage
            // After the exhaustive search, though it is cheaper: a design
            // that breaks an invariant of the schedules and R6 besides is
            // reported for the former, with its timeline.
            if report.counterexample == nil {
                let (violation, covered) = LeastPrivilege.check(scripts: scripts, engine: explorer.engine, config: options.exhaustive)
                report.leastPrivilege = covered
                if let violation {
                    report.counterexample = Counterexample(violation: violation, actions: [], steps: [], seed: options.seed,
                                                           phase: "least-privilege", config: options.exhaustive)
                }
            }
            if report.counterexample == nil {
                let randomExplorer = Explorer(scripts: scripts)
                report.counterexample = randomExplorer.random(options.random, seed: options.seed,
                                                               runs: options.runs, steps: options.stepsPerRun)
                // The run's seed, not the schedule's: --seed replays the whole run.
                report.counterexample?.seed = options.seed
                report.random = randomExplorer.coverage
            }
        }
        let elapsed = ContinuousClock.now - started
        report.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        report.peakMemoryBytes = peakMemory()
        return report
    }

    /// VmHWM of this process: its peak resident memory.
    static func peakMemory() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.filter(\.isNumber)
            return (Int(digits) ?? 0) * 1024
        }
        return 0
    }
}
