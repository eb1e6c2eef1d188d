import ScriptCheck

/// Checker throughput, offline: schedule steps per second of the random
/// search and states per second of an exhaustive search at small depth.
enum ScriptCheckBench {
    static func run(report: Report, randomSteps: Int, exhaustiveDepth: Int) throws {
        let scripts = try LockScripts(directory: LockScripts.defaultDirectory)

        let random = Explorer(scripts: scripts)
        let runs = max(1, randomSteps / 100)
        let randomTime = timedSync {
            if let counterexample = random.random(.randomDefault, seed: 1, runs: runs, steps: 100) {
                say("script-check found a counterexample: \(counterexample)")
            }
        }
        report.add(Measurement(metric: "scriptcheck_random_steps", count: random.coverage.steps, elapsed: randomTime,
                               note: "steps/s, \(runs) random schedules x 100 steps, \(random.coverage.steps) steps, 2 threads"))

        var config = ExplorationConfig.exhaustiveDefault
        config.depth = exhaustiveDepth
        let exhaustive = Explorer(scripts: scripts)
        let exhaustiveTime = timedSync {
            if let counterexample = exhaustive.exhaustive(config) {
                say("script-check found a counterexample: \(counterexample)")
            }
        }
        report.add(Measurement(metric: "scriptcheck_exhaustive_states", count: exhaustive.coverage.states,
                               elapsed: exhaustiveTime,
                               note: "states/s, depth \(exhaustiveDepth), \(exhaustive.coverage.states) states, 2 threads"))
    }

    static func timedSync(_ body: () -> Void) -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        body()
        return clock.now - start
    }
}
