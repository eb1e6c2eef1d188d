import Testing
@testable import ScriptCheck

/// The run memo is a speed-up only: with it and without it, the search must
/// visit the same states, take the same steps and report the same schedule.
/// One thread each, so the two searches walk the tree in the same order.
@Suite struct RunMemoTests {
    static func config(depth: Int) -> ExplorationConfig {
        var config = ExplorationConfig.exhaustiveDefault
        config.depth = depth
        return config
    }

    @Test("the good scripts: the same coverage with and without the memo, and the memo is used")
    func sameCoverage() async throws {
        let scripts = try LockScripts(directory: KnownBadDesignTests.goodDirectory)
        let (with, without) = try await offThePool { () -> (Coverage, Coverage) in
            let memoizing = Explorer(scripts: scripts)
            let plain = Explorer(scripts: scripts, memoizing: false)
            #expect(memoizing.exhaustive(Self.config(depth: 6), threads: 1) == nil)
            #expect(plain.exhaustive(Self.config(depth: 6), threads: 1) == nil)
            return (memoizing.coverage, plain.coverage)
        }
        var served = with
        served.memoHits = 0
        #expect(served == without, "memo: \(with); no memo: \(without)")
        #expect(without.memoHits == 0)
        // Most schedules differ only in what clients believe: most runs repeat.
        #expect(with.memoHits * 2 > with.scriptRuns, "only \(with.memoHits) of \(with.scriptRuns) runs were served")
    }

    /// Designs the exploration finds (the others break R6 alone, found by
    /// one call on a prepared state, which uses no memo).
    @Test("a known-bad design: the same counterexample with and without the memo",
          arguments: KnownBadFixture.all.filter { $0.check == nil })
    func sameCounterexample(_ fixture: KnownBadFixture) async throws {
        let scripts = try LockScripts(directory: fixture.directory, base: KnownBadDesignTests.goodDirectory)
        let (with, without) = try await offThePool {
            (Explorer(scripts: scripts).exhaustive(Self.config(depth: 5), threads: 1),
             Explorer(scripts: scripts, memoizing: false).exhaustive(Self.config(depth: 5), threads: 1))
        }
        let found = try #require(without, "\(fixture.name) passed a depth-5 search")
        #expect(with == found, "memo: \(with.map(Timeline.render) ?? "nothing"); no memo: \(Timeline.render(found))")
    }
}
