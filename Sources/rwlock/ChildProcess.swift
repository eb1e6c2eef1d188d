#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// COMMAND, started with posix_spawnp on rwlock's own stdin, stdout and
/// stderr, with a clean signal mask and default signal handling whatever
/// rwlock inherited, in the process group its ``Keeper`` leads.
///
/// R2: the group, not the pid, is what holds the lock. Every signal goes to
/// the whole group, so children and grandchildren of COMMAND (a shell's
/// background jobs, a worker it forked) stop with it; and the hold lasts
/// until the last member of the group but the keeper is gone, not only
/// COMMAND. A process that leaves the group on purpose (`setsid`,
/// `setpgid`) is out of reach.
final class ChildProcess: Sendable {
    /// COMMAND's pid.
    let pid: pid_t
    /// The process group COMMAND runs in: the keeper's pid. The keeper
    /// keeps the id from being reused while rwlock may signal it.
    let group: pid_t
    /// Set once the group was seen empty but for the keeper.
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

    /// Starts COMMAND in process group `group`, which must exist (the
    /// keeper leads it).
    init(arguments: [String], environment: [String: String], group: pid_t) throws {
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
        posix_spawnattr_setpgroup(&attributes, group)
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
        self.group = group
        self.tookTerminal = interactive
        if interactive {
            // (rwlock ignores SIGTTOU, so handing the terminal back later
            // from the background does not stop it.)
            _ = tcsetpgrp(STDIN_FILENO, group)
            // COMMAND may have touched the terminal before it was its own.
            _ = kill(-group, SIGCONT)
        }
    }

    /// Sends `signal` to every process of COMMAND's group (the keeper
    /// ignores all it can), unless the group is gone, then SIGCONT (as
    /// timeout(1) does): a stopped process would hold any signal but SIGKILL
    /// pending.
    func signal(_ signal: Int32) {
        gone.withLock { gone in
            guard !gone else { return }
            _ = kill(-group, signal)
            if signal != SIGKILL && signal != SIGCONT { _ = kill(-group, SIGCONT) }
        }
    }

    /// Waits for COMMAND on a thread of its own (waitpid blocks) and returns
    /// its exit status, 128+N when killed by signal N. The rest of its group
    /// may still run: see ``waitForGroup()``.
    func wait() async -> Int32 {
        let (pid, group) = (pid, group)
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
                        _ = SwiftGlibc.kill(-group, SIGCONT)
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

    /// Returns once no process of COMMAND's group but the keeper runs any
    /// more. Call after ``wait()``. No event announces it (the members are
    /// not all rwlock's children, and the keeper keeps the group itself
    /// alive), so a thread of its own scans the processes: twice in a row
    /// empty, 1 ms apart (a member may fork and exit between a listing and
    /// its reads), and every 100 ms while members remain. A thread, not a
    /// task, because the calling task may be cancelled (a lost lease) and
    /// must still wait for the group it just told to stop.
    func waitForGroup() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                var emptyScans = 0
                while emptyScans < 2 {
                    if Self.liveProcessExists(inGroup: group) {
                        emptyScans = 0
                        usleep(100_000)
                    } else {
                        emptyScans += 1
                        if emptyScans < 2 { usleep(1_000) }
                    }
                }
                gone.withLock { $0 = true }
                continuation.resume()
            }
            thread.start()
        }
    }

    /// Scans /proc for a process of group `group`, other than its leader
    /// (the keeper), that is not a zombie: a member that exited but was not
    /// yet reaped by its new parent runs no code and does not count. Plain
    /// system calls, not Foundation: it runs at the end of every hold, over
    /// every process of the machine. Without /proc (not Linux, or hidden)
    /// nothing can be told but COMMAND's own exit: false.
    private static func liveProcessExists(inGroup group: pid_t) -> Bool {
        guard let directory = opendir("/proc") else { return false }
        defer { closedir(directory) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        while let entry = readdir(directory) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { name -> pid_t in
                var value: pid_t = 0
                for byte in name {
                    if byte == 0 { break }
                    guard byte >= 0x30 && byte <= 0x39 else { return 0 }
                    value = value * 10 + pid_t(byte - 0x30)
                }
                return value
            }
            guard pid > 0, pid != group else { continue }
            let descriptor = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            close(descriptor)
            guard count > 0 else { continue }
            // "pid (comm) S ppid pgrp …"; comm may hold any bytes, ')' too.
            let stat = buffer[..<count]
            guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { continue }
            let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "), maxSplits: 4)
            guard fields.count > 3, let pgrp = pid_t(String(decoding: fields[2], as: UTF8.self)), pgrp == group else { continue }
            if fields[0].first != UInt8(ascii: "Z") && fields[0].first != UInt8(ascii: "X") { return true }
        }
        return false
    }
}
