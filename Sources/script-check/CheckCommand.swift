import ArgumentParser
import Foundation
import ScriptCheck

/// The default job: lint, then exhaustive and random exploration.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Lint the scripts, then explore schedules and prove S1–S7 and R6's script half (the default).",
        discussion: "Exit 0: clean. Exit 1: a lint error or a violated invariant (with a shrunk timeline and its seed). Exit 2: usage or setup error."
    )

    @Option(help: "Directory holding the lock's scripts (default: the package's lua/).")
    var luaDir: String?

    @Option(help: "Seed of the random schedules (default: a fresh one, printed).")
    var seed: UInt64?

    @Option(help: "Number of random schedules (100 steps each).")
    var runs: Int = 1_000

    @Option(help: "Depth of the exhaustive search.")
    var depth: Int = 10

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        guard runs >= 0 else { throw ValidationError("--runs must be 0 or more") }
        guard (0...40).contains(depth) else { throw ValidationError("--depth must be between 0 and 40") }
    }

    func run() throws {
        let scripts: LockScripts
        do {
            scripts = try LockScripts(directory: luaDir ?? LockScripts.defaultDirectory)
        } catch {
            FileHandle.standardError.write(Data("script-check: \(error)\n".utf8))
            throw ExitCode(2)
        }
        #if DEBUG
        if !json {
            FileHandle.standardError.write(Data("script-check: debug build; `swift run -c release script-check` explores about six times faster\n".utf8))
        }
        #endif
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(UInt32.max))
        let report = Checker.run(scripts, options: CheckOptions(seed: seed, runs: runs, depth: depth))
        print(json ? report.json() : report.text())
        throw ExitCode(report.exitCode)
    }
}
