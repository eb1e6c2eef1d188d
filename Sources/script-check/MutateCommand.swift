import ArgumentParser
import Foundation
import ScriptCheck

/// `script-check mutate`: plants one small bug at a time in the lock's
/// scripts and checks that the checker kills each mutant.
struct MutateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mutate",
        abstract: "Mutation self-check: plant one bug at a time in the scripts and report the share the checker kills.",
        discussion: """
            Operators: \(MutationOperator.allCases.map(\.rawValue).joined(separator: ", ")). \
            Each mutant gets a budget smaller than the default check (lint, foreign states, \
            exhaustive --depth, least privilege, --runs random schedules). Survivors are explained by entries in \
            <lua-dir>/\(EquivalentMutants.fileName). Exit 0: score ≥ 95% and every survivor \
            explained. Exit 1: otherwise. Exit 2: usage or setup error.
            """
    )

    @Option(help: "Directory holding the lock's scripts (default: the package's lua/).")
    var luaDir: String?

    @Option(help: "Seed of each mutant's random schedules.")
    var seed: UInt64 = 1

    @Option(help: "Random schedules per mutant (100 steps each).")
    var runs: Int = MutationOptions().runs

    @Option(help: "Depth of each mutant's exhaustive search.")
    var depth: Int = MutationOptions().depth

    @Option(help: "Write a Markdown report to this file.")
    var report: String?

    @Flag(help: "Print the result as one JSON object (progress goes to stderr).")
    var json = false

    @Option(help: "Check only the first N mutants of the enumeration.")
    var limit: Int?

    @Option(help: "Worker threads.")
    var threads: Int = 2

    func validate() throws {
        guard runs >= 0 else { throw ValidationError("--runs must be 0 or more") }
        guard (0...40).contains(depth) else { throw ValidationError("--depth must be between 0 and 40") }
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64") }
    }

    func run() throws {
        let directory = luaDir ?? LockScripts.defaultDirectory
        let sources: [LockOperation: [UInt8]]
        let equivalents: EquivalentMutants
        do {
            sources = try LockScripts(directory: directory).scripts.mapValues(\.source)
            equivalents = try EquivalentMutants(directory: directory)
        } catch {
            FileHandle.standardError.write(Data("script-check: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let all = MutationOperators.mutants(of: sources)
        let mutants = limit.map { Array(all.prefix($0)) } ?? all
        let options = MutationOptions(seed: seed, runs: runs, depth: depth, threads: threads)
        let progressToStderr = json
        emit("script-check mutate: \(mutants.count) of \(all.count) mutants of \(directory), \(threads) thread(s)", toStderr: progressToStderr)

        let run = MutationRunner.run(sources: sources, directory: directory, mutants: mutants, options: options) { outcome, done, total in
            let verdict = outcome.killed ? "killed by \(outcome.killedBy ?? "?")" : "SURVIVED"
            let line = String(format: "[%d/%d] %@ (%.1f s): %@", done, total, verdict, outcome.seconds, outcome.mutant.description)
            MutateCommand.emit(line, toStderr: progressToStderr)
        }
        let verdict = MutationVerdict(run: run, equivalents: equivalents, enumerated: all)
        if let report {
            do {
                try Data(verdict.markdown().utf8).write(to: URL(fileURLWithPath: report))
            } catch {
                FileHandle.standardError.write(Data("script-check: cannot write \(report): \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        print(json ? verdict.json() : verdict.text())
        if !verdict.unexplained.isEmpty && !json {
            print("\nTo explain a survivor, add a block like this to \(EquivalentMutants.fileName):\n")
            print(EquivalentMutants.block(for: verdict.unexplained[0].mutant))
        }
        throw ExitCode(verdict.exitCode)
    }

    private func emit(_ line: String, toStderr: Bool) { MutateCommand.emit(line, toStderr: toStderr) }

    static func emit(_ line: String, toStderr: Bool) {
        if toStderr {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
