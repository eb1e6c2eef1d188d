import Foundation
import Testing
@testable import ScriptCheck

/// A broken variant of the lock under `KnownBad/<name>/` (only the scripts it
/// changes; the rest come from `lua/`) and the invariant the checker must
/// report for it.
struct KnownBadFixture: Sendable, CustomTestStringConvertible {
    let name: String
    /// `S1` … `S7`, `CAP` or `R6`, as in `Violation.invariant`.
    let invariant: String
    let flaw: String
    /// Other invariants the same design breaks, for designs wrong in several
    /// ways at once: the search stops at whichever it meets first.
    var alsoBreaks: [String] = []
    /// The check of one call on a prepared state that must find it (its
    /// `Counterexample.phase`); nil for the exploration, with a schedule.
    var check: String? = nil

    var testDescription: String { "\(name) → \(invariant)" }

    var directory: String { KnownBadDesignTests.fixtures.appendingPathComponent(name).path }

    static let all: [KnownBadFixture] = [
        KnownBadFixture(name: "reader-counter", invariant: "S4",
                        flaw: "readers are one shared count with one TTL (the seed design): release and renew cannot tell whose share they touch",
                        alsoBreaks: ["CAP", "S2", "S5"]),
        KnownBadFixture(name: "release-without-token-check", invariant: "S4",
                        flaw: "release deletes the live write lease without comparing the token"),
        KnownBadFixture(name: "read-ignores-intent", invariant: "S3",
                        flaw: "acquire_read never looks at waiting writers' intents"),
        KnownBadFixture(name: "reader-preference-flag-as-number", invariant: "S3",
                        flaw: "mode compared as ARGV[3] ~= 0, always true: prefer-readers readers are held up by intents"),
        KnownBadFixture(name: "write-ignores-readers", invariant: "S2",
                        flaw: "acquire_write grants without looking at live readers"),
        KnownBadFixture(name: "fence-reset-after-expiry", invariant: "S6",
                        flaw: "the fence is INCR on a key that expires with the lease, so it restarts at 1"),
        KnownBadFixture(name: "renew-revives-expired-lease", invariant: "S4",
                        flaw: "renew extends a lease whose deadline has been reached"),
        KnownBadFixture(name: "release-deletes-foreign-writer", invariant: "S4",
                        flaw: "release replies honestly but deletes the write lease whoever asks"),
        KnownBadFixture(name: "release-keeps-caps-entry", invariant: "BOUND",
                        flaw: "release leaves the capped reader's caps entry; each new capped reader pushes the caps key's expiry on"),
        KnownBadFixture(name: "caps-outlive-readers", invariant: "BOUND",
                        flaw: "a capped reader whose lease ran out keeps its caps entry until the caps key expires (main's scripts before BOUND)"),
        KnownBadFixture(name: "release-publishes-after-delete", invariant: "R6",
                        flaw: "release DELs the write lease and then PUBLISHes without asking first: a user who may not publish gets an error after the lease is gone (main's release before R6)",
                        check: "least-privilege"),
    ]
}

/// The checker must reject every known-bad design, with a short shrunk
/// schedule, and accept the package's own `lua/` under the same options, so
/// these tests fail both when the checker goes blind and when it cries wolf.
@Suite struct KnownBadDesignTests {
    /// Small enough for a debug build (the good scripts take a few seconds),
    /// deep enough that the exhaustive search finds every fixture.
    static let options = CheckOptions(seed: 1, runs: 30, stepsPerRun: 100, depth: 5)

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("KnownBad")

    static let goodDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("lua").path

    @Test("the checker rejects a known-bad design", arguments: KnownBadFixture.all)
    func rejects(_ fixture: KnownBadFixture) async throws {
        let scripts = try LockScripts(directory: fixture.directory, base: Self.goodDirectory)
        let report = try await offThePool { Checker.run(scripts, options: Self.options) }
        #expect(report.lint.isEmpty, "\(fixture.name): the flaw should be found by exploration, not lint: \(report.lint)")
        let example = try #require(report.counterexample, "\(fixture.name) (\(fixture.flaw)) passed the checker")
        print("\(fixture.name): \(fixture.flaw)\n\(Timeline.render(example))")
        #expect(([fixture.invariant] + fixture.alsoBreaks).contains(example.violation.invariant),
                "\(fixture.name): expected \(fixture.invariant), got \(example.violation)")
        if let check = fixture.check {
            #expect(example.phase == check, "\(fixture.name): found by \(example.phase), not the \(check) check")
            #expect(example.steps.isEmpty, "\(fixture.name): one call on a prepared state needs no schedule")
        } else {
            #expect(example.steps.count > 0, "\(fixture.name): an exploration finding needs a schedule")
            #expect(example.steps.count <= 10, "\(fixture.name): shrunk counterexample has \(example.steps.count) steps")
        }
        #expect(report.exitCode == 1)
    }

    @Test("the good scripts pass under the same options")
    func goodScriptsPass() async throws {
        let scripts = try LockScripts(directory: Self.goodDirectory)
        let report = try await offThePool { Checker.run(scripts, options: Self.options) }
        #expect(report.lint.isEmpty, "lint: \(report.lint)")
        #expect(report.counterexample == nil, "\(report.counterexample.map(Timeline.render) ?? "")")
        #expect(report.exhaustive.states > 0 && report.random.schedules == Self.options.runs)
    }

    @Test("every fixture replaces some of lua/'s scripts, and only scripts the lock has")
    func fixturesOverrideScripts() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { !$0.hasPrefix(".") }
        #expect(Set(names) == Set(KnownBadFixture.all.map(\.name)), "fixture directories and the test's list differ")
        let good = try LockScripts(directory: Self.goodDirectory)
        let known = Set(LockOperation.allCases.map { $0.rawValue + ".lua" })
        for fixture in KnownBadFixture.all {
            let files = try FileManager.default.contentsOfDirectory(atPath: fixture.directory)
            #expect(!files.isEmpty && Set(files).isSubset(of: known), "\(fixture.name) holds \(files)")
            let bad = try LockScripts(directory: fixture.directory, base: Self.goodDirectory)
            let changed = LockOperation.allCases.filter { bad[$0].source != good[$0].source }
            #expect(changed.count == files.count, "\(fixture.name): every file it holds must differ from lua/'s")
        }
    }
}
