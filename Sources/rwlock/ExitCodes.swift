import ArgumentParser
import Foundation
import RWLock

/// The `rwlock` exit codes (sysexits.h where one fits), documented in
/// `rwlock --help` and README.
enum Exit {
    /// `evict`: the token held no live lease.
    static let nothingHeld: Int32 = 1
    /// Bad usage: unknown option, malformed or non-positive duration, bad URL
    /// or lock name, missing COMMAND (EX_USAGE).
    static let usage: Int32 = 64
    /// Redis could not be reached, the connection broke, or (with
    /// --replicas) too few replicas confirmed the grant (EX_UNAVAILABLE).
    static let noConnection: Int32 = 69
    /// The lease was lost, or not renewed in time, while COMMAND ran, or the
    /// keeper that enforces its deadline died; COMMAND's process group was
    /// stopped before another holder could be granted (EX_SOFTWARE).
    static let leaseLost: Int32 = 70
    /// The keeper process could not be started, so COMMAND was not run
    /// (EX_OSERR).
    static let cannotProtect: Int32 = 71
    /// The lock was not granted: within --timeout, or at once with
    /// --no-wait (EX_TEMPFAIL); -E replaces it.
    static let timedOut: Int32 = 75
    /// Redis answered with an error or an undecodable reply (EX_PROTOCOL).
    static let server: Int32 = 76
    /// The server's configuration makes the lock unsafe (R3: it may evict
    /// the lock's keys) or the Redis user lacks a permission it needs (R6);
    /// COMMAND was not run (EX_CONFIG).
    static let unsafeServer: Int32 = 78
    /// COMMAND was found but could not be started (as shells do).
    static let cannotExecute: Int32 = 126
    /// COMMAND was not found (as shells do).
    static let notFound: Int32 = 127

    static let table = """
        Exit status:
          COMMAND's own  read/write: COMMAND ran; 128+N if it was killed by signal N
          0    inspect, reset, evict: done (evict: the token's lease was ended)
          1    evict: the token held no live lease
          64   bad usage: unknown option, malformed, zero or negative duration,
               bad URL or lock name, missing COMMAND
          69   no connection to Redis; or, with --replicas, too few replicas
               confirmed the grant (it was released unused)
          70   lease lost, or not renewed in time, while COMMAND ran: COMMAND's
               whole process group got SIGTERM --kill-grace before the lease's
               validity ended and SIGKILL when it ended (SIGKILL at once when
               the lease was found lost); or the keeper process that enforces
               the deadline died, and the group got SIGKILL at once
          71   the keeper process could not be started; COMMAND was not run
          75   not granted: timed out (--timeout), or held (--no-wait);
               -E/--conflict-exit-code N makes it N
          76   Redis replied with an error or an unexpected reply
          78   the server may evict the lock's keys (maxmemory with a
               maxmemory-policy other than noeviction) or its INFO cannot
               be read (--allow-eviction to accept); or the Redis user lacks
               a permission the lock needs (rwlock acl prints the rules);
               COMMAND was not run
          126  COMMAND could not be started; 127 COMMAND not found
          128+N  rwlock got signal N (SIGINT, SIGTERM) while waiting for the lock
        """

    /// Prints `error` on stderr and exits with its code.
    static func fail(_ error: any Error) -> Never {
        let code: Int32
        if let error = error as? RWLockError {
            switch error.kind {
            case .invalidConfiguration: code = usage
            case .connection, .tls, .shutdown, .notReplicated: code = noConnection
            case .timedOut: code = timedOut
            case .leaseLost: code = leaseLost
            case .unsafeServer, .permissionDenied: code = unsafeServer
            default: code = server
            }
        } else {
            code = server
        }
        printError("rwlock: \(error)")
        exit(code)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
