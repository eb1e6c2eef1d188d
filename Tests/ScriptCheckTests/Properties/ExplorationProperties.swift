import Foundation
import Testing
@testable import ScriptCheck

/// Property tests of the lock's scripts on the mock: for lock scopes drawn
/// at random (lease and intent lengths, how many readers and writers, their
/// modes and hard caps, faults on or off, time-jump sizes), no schedule the
/// explorer tries breaks an invariant of the contract (S1–S7 of the RWLock DocC article "The Contract", and the cap).
///
/// The scopes `script-check` searches by default are fixed; these vary them,
/// so a bug that only shows with, say, an intent shorter than the lease, a
/// cap below it, or four writers and one reader is still found.
///
/// Every test prints `PROPERTY_SEED`; setting it replays the run exactly.
@Suite struct ExplorationProperties {
    /// Parameter sets per run, each explored by `runsPerSet` random schedules.
    static let parameterSets = 40
    static let runsPerSet = 30
    static let stepsPerRun = 40

    static func scripts() throws -> LockScripts {
        try LockScripts(directory: LockScripts.defaultDirectory)
    }

    /// The scope and exploration seed of parameter set `index`.
    static func parameterSet(_ index: Int) -> (ExplorationConfig, UInt64) {
        var g = SplitMix64(seed: SplitMix64.derive(PropertySeed.run, index))
        let config = ScopeGenerator.exploration(&g)
        return (config, g.next())
    }

    @Test("Random schedules over generated scopes break no invariant", arguments: 0..<parameterSets)
    func randomExploration(set index: Int) async throws {
        let (config, seed) = Self.parameterSet(index)
        let scripts = try Self.scripts()
        let started = ContinuousClock.now
        let (found, coverage) = try await offThePool {
            let explorer = Explorer(scripts: scripts)
            return (explorer.random(config, seed: seed, runs: Self.runsPerSet, steps: Self.stepsPerRun), explorer.coverage)
        }
        print("""
            Property set \(index) (\(PropertySeed.replay), exploration seed \(seed)): \(ScopeGenerator.describe(config)); \
            \(coverage.schedules) schedules, \(coverage.scriptRuns) script runs, \(coverage.crashes) crashes, \
            \(coverage.lostReplies) lost replies, \(coverage.timeJumps) time jumps in \(ContinuousClock.now - started)
            """)
        if let found {
            let report = "\(PropertySeed.replay), set \(index):\n" + Timeline.render(found)
            print(report)
            Issue.record(Comment(rawValue: report))
        }
        // Not vacuous: the schedules really ran the scripts.
        #expect(coverage.scriptRuns > Self.runsPerSet * Self.stepsPerRun / 2)
    }

    /// Every schedule of depth 5 over two generated small scopes (at most
    /// two readers and two writers, so the search stays within seconds).
    @Test("Exhaustive search of small generated scopes breaks no invariant", arguments: 0..<2)
    func exhaustiveExploration(set index: Int) async throws {
        var g = SplitMix64(seed: SplitMix64.derive(PropertySeed.run, 1000 + index))
        let config = ScopeGenerator.exploration(readers: 2, writers: 2, depth: index == 0 ? 5 : 4, &g)
        let scripts = try Self.scripts()
        let started = ContinuousClock.now
        let (found, coverage) = try await offThePool {
            let explorer = Explorer(scripts: scripts)
            return (explorer.exhaustive(config, stateLimit: 50_000), explorer.coverage)
        }
        print("""
            Property exhaustive \(index) (\(PropertySeed.replay)): \(ScopeGenerator.describe(config)), depth \(config.depth), \
            jumps \(config.advances), budget \(config.maxLostReplies) lost/\(config.maxTimeJumps) jumps; \
            \(coverage.states) states, \(coverage.schedules) schedules, \(coverage.scriptRuns) script runs \
            in \(ContinuousClock.now - started)
            """)
        if let found {
            let report = "\(PropertySeed.replay), exhaustive \(index):\n" + Timeline.render(found)
            print(report)
            Issue.record(Comment(rawValue: report))
        }
        #expect(coverage.states > 1)
    }

    /// The properties above are worth something only if the explorer finds
    /// a broken lock in the same generated scopes: two seeded bugs (a reader
    /// admitted beside a live writer; a writer admitted beside live holders)
    /// must each be caught, as the right invariant.
    @Test("Generated scopes catch seeded bugs", arguments: 0..<4)
    func seededBugsAreCaught(set index: Int) async throws {
        let (config, seed) = Self.parameterSet(index)
        let correct = try Self.scripts()
        let mutants: [(String, LockOperation, String, String, Set<String>)] = [
            ("reader ignores the writer", .acquireRead,
             // S7 when a waiting writer refuses the reader first: the wait hint
             // then names the intent, not the live writer.
             "if writer_left > 0 then return {0, writer_left, 0} end", "", ["S2", "S7"]),
            ("writer ignores holders", .acquireWrite,
             "if wait > 0 or (head and head ~= token) then", "if head and head ~= token then", ["S1", "S2"]),
        ]
        for (name, operation, original, replacement, expected) in mutants {
            var sources = correct.scripts.mapValues(\.source)
            let text = String(decoding: sources[operation]!, as: UTF8.self)
            #expect(text.contains(original), "the mutant '\(name)' no longer applies to \(operation.rawValue).lua")
            sources[operation] = Array(text.replacingOccurrences(of: original, with: replacement).utf8)
            // Faults on, so crashes and lost replies are in the mix as well.
            var scope = config
            scope.faults = true
            let mutant = LockScripts(sources: sources)
            let faulty = scope
            let found = try await offThePool {
                Explorer(scripts: mutant).random(faulty, seed: seed, runs: 300, steps: Self.stepsPerRun)
            }
            print("Property mutant '\(name)' set \(index) (\(PropertySeed.replay), seed \(seed)): "
                  + (found.map { "caught as \($0.violation.invariant) in \($0.steps.count) steps" } ?? "NOT caught"))
            #expect(found.map { expected.contains($0.violation.invariant) } == true,
                    "\(PropertySeed.replay): mutant '\(name)' gave \(found.map { Timeline.render($0) } ?? "no counterexample")")
        }
    }
}
