#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// COMMAND, started with posix_spawnp on rwlock's own stdin, stdout and
/// stderr, with a clean signal mask and default SIGINT/SIGTERM/SIGPIPE
/// handling whatever rwlock inherited.
final class ChildProcess: Sendable {
    let pid: pid_t
    /// Set once the child has been reaped: after that its pid may belong to
    /// another process and must not be signalled.
    private let reaped = Mutex(false)

    enum SpawnError: Error, Sendable, CustomStringConvertible {
        case failed(command: String, errno: Int32)
        var description: String {
            switch self {
            case .failed(let command, let code): "cannot run \(command): \(String(cString: strerror(code)))"
            }
        }
        var exitCode: Int32 {
            switch self {
            case .failed(_, let code): code == ENOENT ? Exit.notFound : Exit.cannotExecute
            }
        }
    }

    init(arguments: [String], environment: [String: String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError.failed(command: arguments[0], errno: result) }
        self.pid = pid
    }

    /// Sends `signal` unless the child was already reaped.
    func signal(_ signal: Int32) {
        reaped.withLock { done in
            if !done { _ = kill(pid, signal) }
        }
    }

    /// Waits for the child on a thread of its own (waitpid blocks) and
    /// returns its exit status, 128+N when killed by signal N.
    func wait() async -> Int32 {
        let pid = pid
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let child = self
            let thread = Thread {
                // Wait without reaping, then reap and mark reaped in one step,
                // so signal(_:) never reaches a recycled pid.
                var info = siginfo_t()
                while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
                let status = child.reaped.withLock { done -> Int32 in
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                    done = true
                    return status
                }
                continuation.resume(returning: status)
            }
            thread.start()
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Lease lost: SIGTERM now, SIGKILL after `grace` if still running.
    func terminate(grace: Duration) {
        signal(SIGTERM)
        let (seconds, attoseconds) = grace.components
        let delay = Double(seconds) + Double(attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { [self] in self.signal(SIGKILL) }
    }
}
