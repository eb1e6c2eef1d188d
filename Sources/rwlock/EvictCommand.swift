import ArgumentParser
import Foundation
import RWLock

struct EvictCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evict",
        abstract: "End lease TOKEN on lock NAME, whoever holds it, and wake the waiters.",
        discussion: "Exit 0 when TOKEN held a live lease and it was ended, 1 when it held none (nothing changed). "
            + "The evicted holder finds out at its next renewal; a running `rwlock` then stops its COMMAND (exit 70).")
    @OptionGroup var options: LockOptions
    @Argument(help: "The lease's token, as `rwlock inspect` shows it.") var token: String

    func run() async throws {
        let released: Bool
        do {
            released = try await options.lock().evict(token: token)
        } catch {
            Exit.fail(error)
        }
        if released {
            print("evicted \(token) from lock \(options.name)")
        } else {
            print("\(token) held no live lease on lock \(options.name); nothing changed")
            throw ExitCode(Exit.nothingHeld)
        }
    }
}
