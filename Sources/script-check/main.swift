import ArgumentParser
import PackageVersion
import Foundation
import ScriptCheck

/// `script-check`: lints the lock's Lua scripts and proves S1–S7 over explored
/// schedules, with no Redis server. Exit 0: clean; 1: a finding; 2: usage or
/// setup error.
struct ScriptCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "script-check",
        abstract: "Lint the RWLock Lua scripts and prove their invariants over explored schedules, offline.",
        version: PackageVersion.current,
        subcommands: [CheckCommand.self, EvalCommand.self, MutateCommand.self],
        defaultSubcommand: CheckCommand.self
    )
}

/// Runs a command and maps its outcome onto the documented exit codes:
/// ArgumentParser's own usage errors would exit 64, the contract says 2.
func runMain() -> Never {
    do {
        var command = try ScriptCheckCommand.parseAsRoot()
        try command.run()
        exit(0)
    } catch let code as ExitCode {
        exit(code.rawValue)
    } catch {
        let code = ScriptCheckCommand.exitCode(for: error)
        if code == .success {
            print(ScriptCheckCommand.fullMessage(for: error))
            exit(0)
        }
        FileHandle.standardError.write(Data((ScriptCheckCommand.fullMessage(for: error) + "\n").utf8))
        exit(2)
    }
}

runMain()
