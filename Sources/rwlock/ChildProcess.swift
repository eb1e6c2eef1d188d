#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// COMMAND, started with posix_spawnp on rwlock's own stdin, stdout and
/// stderr, with a clean signal mask and default SIGINT/SIGTERM/SIGPIPE
/// handling whatever rwlock inherited, as the leader of a process group of
/// its own.
///
/// R2: the group, not the pid, is what holds the lock. Every signal goes to
/// the whole group, so children and grandchildren of COMMAND (a shell's
/// background jobs, a worker it forked) stop with it; and the hold lasts
/// until the last member of the group is gone, not only COMMAND. A process
/// that leaves the group on purpose (`setsid`, `setpgid`) is out of reach.
final class ChildProcess: Sendable {
    /// COMMAND's pid, which is also its process group's id.
    let pid: pid_t
    /// Set once the group was seen empty: after that its id may be reused
    /// and must not be signalled.
    private let gone = Mutex(false)
    /// Whether COMMAND got rwlock's terminal as its foreground group (an
    /// interactive run), to be handed back at the end.
    private let tookTerminal: Bool

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
        // rwlock ignores the stop and tty signals (a stopped rwlock renews
        // nothing); COMMAND gets the defaults back.
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGCHLD] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // Process group 0: a new group whose id is the child's pid.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        // Interactive: rwlock is the terminal's foreground group, so hand it
        // to COMMAND's group, or COMMAND would stop on reading it (SIGTTIN).
        let interactive = isatty(STDIN_FILENO) == 1 && tcgetpgrp(STDIN_FILENO) == getpgrp()
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError.failed(command: arguments[0], errno: result) }
        self.pid = pid
        self.tookTerminal = interactive
        if interactive {
            // (rwlock ignores SIGTTOU, so handing the terminal back later
            // from the background does not stop it.)
            _ = tcsetpgrp(STDIN_FILENO, pid)
            // COMMAND may have touched the terminal before it was its own.
            _ = kill(-pid, SIGCONT)
        }
    }

    /// Sends `signal` to every process of COMMAND's group, unless the group
    /// is gone, then SIGCONT (as timeout(1) does): a stopped process would
    /// hold any signal but SIGKILL pending.
    func signal(_ signal: Int32) {
        gone.withLock { gone in
            guard !gone else { return }
            _ = kill(-pid, signal)
            if signal != SIGKILL && signal != SIGCONT { _ = kill(-pid, SIGCONT) }
        }
    }

    /// SIGKILL to the group at `deadline` (at once if it has passed), from a
    /// thread of its own: precise, and independent of the caller's task.
    func killGroup(at deadline: ContinuousClock.Instant) {
        let thread = Thread { [self] in
            // Re-measured after each wake-up: nanosleep may return early (EINTR).
            while case let left = deadline - ContinuousClock.now, left > .zero {
                var pause = timespec(tv_sec: Int(left.components.seconds), tv_nsec: Int(left.components.attoseconds / 1_000_000_000))
                _ = nanosleep(&pause, nil)
            }
            signal(SIGKILL)
        }
        thread.start()
    }

    /// Waits for COMMAND on a thread of its own (waitpid blocks) and returns
    /// its exit status, 128+N when killed by signal N. The rest of its group
    /// may still run: see ``waitForGroup()``.
    func wait() async -> Int32 {
        let pid = pid
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let thread = Thread {
                var status: Int32 = 0
                while true {
                    let result = waitpid(pid, &status, WUNTRACED)
                    if result == -1 && errno == EINTR { continue }
                    // Stopped (Ctrl-Z reaches COMMAND's group, not rwlock):
                    // a holder is not suspended, since rwlock would keep its
                    // lease while the shell could not manage the job; resume it.
                    if result == pid && status & 0xff == 0x7f {
                        _ = SwiftGlibc.kill(-pid, SIGCONT)
                        continue
                    }
                    break
                }
                continuation.resume(returning: status)
            }
            thread.start()
        }
        if tookTerminal { _ = tcsetpgrp(STDIN_FILENO, getpgrp()) }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Returns once no process of COMMAND's group runs any more. Call after
    /// ``wait()``. No event announces it (the members are not all rwlock's
    /// children), so a thread of its own looks every 10 ms; a thread, not a
    /// task, because the calling task may be cancelled (a lost lease) and
    /// must still wait for the group it just told to stop.
    func waitForGroup() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                // kill(2) every 10 ms. When members remain, the /proc scan that
                // tells zombies from the living runs at most every 100 ms, and
                // the group counts as gone only after two scans in a row (a
                // member may fork and exit between a listing and its reads).
                var look = 0
                var emptyScans = 0
                while groupExists() {
                    if look % 10 == 0 {
                        emptyScans = Self.liveProcessExists(inGroup: pid) ? 0 : emptyScans + 1
                        if emptyScans >= 2 { break }
                    }
                    usleep(10_000)
                    look += 1
                }
                gone.withLock { $0 = true }
                continuation.resume()
            }
            thread.start()
        }
    }

    /// Whether the group has any member at all, zombies included.
    private func groupExists() -> Bool {
        !(kill(-pid, 0) == -1 && errno == ESRCH)
    }

    /// Scans /proc for a process of group `group` that is not a zombie: a
    /// member that exited but was not yet reaped by its new parent runs no
    /// code and does not count.
    /// A scan that sees no member at all (while kill(2) says there is one:
    /// /proc hidden or of another namespace) proves nothing: true.
    private static func liveProcessExists(inGroup group: pid_t) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return true }
        var sawMember = false
        for entry in entries where entry.first?.isNumber == true {
            // "pid (comm) S ppid pgrp …"; comm may hold any bytes, ')' too.
            guard let stat = FileManager.default.contents(atPath: "/proc/\(entry)/stat"),
                let close = stat.lastIndex(of: UInt8(ascii: ")"))
            else { continue }
            let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
            guard fields.count > 2, let pgrp = pid_t(String(decoding: fields[2], as: UTF8.self)), pgrp == group else { continue }
            sawMember = true
            if fields[0].first != UInt8(ascii: "Z") && fields[0].first != UInt8(ascii: "X") { return true }
        }
        return !sawMember
    }
}
