import ArgumentParser
import Foundation
import RWLock

/// `NAME [--url URL]`, for the operator commands.
struct LockOptions: ParsableArguments {
    @Argument(help: "The lock's name.")
    var name: String

    @Option(help: ArgumentHelp("Redis URL (redis://, unix://, or redis+cluster://host:port,... for a cluster); default: $REDIS_URL, else redis://127.0.0.1:6379.", valueName: "url"))
    var url: String?

    /// The lock, or exit 64 for a bad URL or name.
    func lock() -> RWLock {
        do {
            return try RWLock(name: name, client: try RedisClient(url: url))
        } catch {
            Exit.fail(error)
        }
    }
}
