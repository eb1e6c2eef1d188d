import ArgumentParser
import Foundation
import RWLock

struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Delete lock NAME's holders and waiting writers; keep its last fence.",
        discussion: "Deletes the writer, readers, caps, queue and intents keys. The fence key is kept so that "
            + "fencing tokens keep growing. Holders find out at their next renewal (their `rwlock` exits 70); "
            + "waiters re-check within their retry interval.")
    @OptionGroup var options: LockOptions

    func run() async throws {
        let deleted: Int
        do {
            deleted = try await options.lock().reset()
        } catch {
            Exit.fail(error)
        }
        print("reset lock \(options.name): deleted \(deleted) key(s)")
    }
}
