import ArgumentParser
import Foundation
import PackageVersion

/// `rwlock`: run a command holding a distributed reader-writer lock on
/// Redis, and operate on locks.
struct RwlockCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rwlock",
        abstract: "Run a command holding a reader-writer lock kept in Redis; inspect, evict, reset locks.",
        usage: """
            rwlock read|write NAME [--lease D] [--timeout D] [-n|--no-wait] [-E|--conflict-exit-code N]
                              [--kill-grace D] [--cap D] [--url URL] [TLS] [--prefix P] [--replicas N]
                              [--allow-eviction] [--restart-quarantine D] [--prefer-readers (read)] -- COMMAND [ARG ...]
            rwlock inspect NAME [--json] [--url URL] [TLS] [--prefix P]
            rwlock evict NAME TOKEN [--url URL] [TLS] [--prefix P]
            rwlock reset NAME [--url URL] [TLS] [--prefix P]
            rwlock acl [--prefix P]
              TLS: [--cacert FILE] [--cacertdir DIR] [--cert FILE] [--key FILE] [--sni NAME] [--insecure]
            """,
        discussion: """
            read/write run COMMAND (stdio inherited) holding the lease, renew it every third of --lease, and \
            release it when COMMAND exits. COMMAND gets RWLOCK_TOKEN (the lease's token) and, for write, \
            RWLOCK_FENCE (the fencing token). COMMAND runs in a process group of its own: SIGINT and SIGTERM \
            are forwarded to the whole group, the hold lasts until every process of the group has exited \
            (as flock(1)'s does), and if the lease cannot be renewed in time the group gets SIGTERM \
            --kill-grace before the lease's validity ends and SIGKILL when it ends. A keeper process (rwlock \
            __keeper) leads the group and sends those signals on its own clock, so they come whether rwlock \
            runs, is stopped or was killed (then SIGTERM at once). A process that leaves the group (setsid) \
            is out of reach. Durations are a whole number and a unit: 250ms, 2s, 1m, 1h \
            (0 where an option says so).

            \(Exit.table)
            """,
        version: PackageVersion.current,
        subcommands: [ReadCommand.self, WriteCommand.self, InspectCommand.self, EvictCommand.self, ResetCommand.self,
                      AclCommand.self]
    )
}

/// Parses and runs; ArgumentParser's own usage errors exit 64 like ours.
func runMain() async -> Never {
    do {
        var command = try RwlockCommand.parseAsRoot()
        if var command = command as? any AsyncParsableCommand {
            try await command.run()
        } else {
            try command.run()
        }
        exit(0)
    } catch let code as ExitCode {
        exit(code.rawValue)
    } catch {
        let code = RwlockCommand.exitCode(for: error)
        if code == .success {
            print(RwlockCommand.fullMessage(for: error))
            exit(0)
        }
        printError(RwlockCommand.fullMessage(for: error))
        exit(Exit.usage)
    }
}

// rwlock's keeper is rwlock itself, run again (Keeper.swift).
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == KeeperProtocol.argument {
    Keeper.main(Array(CommandLine.arguments.dropFirst()))
}
await runMain()
