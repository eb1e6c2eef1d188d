#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// rwlock's end of its ``Keeper``: starts it, tells it each confirmed
/// deadline, watches it, and stands it down when the hold is over.
///
/// The keeper is rwlock's child, and rwlock reaps it only in
/// ``standDown()``: until then even a dead keeper stays a member of
/// COMMAND's group (a zombie), so the group's id stays COMMAND's.
final class KeeperLink: Sendable {
    /// The keeper's pid, which is also the id of the process group COMMAND
    /// joins.
    let pid: pid_t
    private let orders: Int32

    private struct State {
        var terminated = false
        var killed = false
        var standingDown = false
        /// How the keeper ended, once it has: its exit status or signal.
        var ended: String?
        var reaped = false
        /// Why rwlock itself killed the keeper.
        var failure: String?
        /// It ended neither stood down nor by its own SIGKILL of the group.
        var endedUnexpectedly = false
        var onUnexpectedEnd: (@Sendable (String) -> Void)?
        var endWaiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    enum StartError: Error, CustomStringConvertible {
        case failed(String, errno: Int32)
        var description: String {
            switch self {
            case .failed(let step, let code):
                "cannot start the keeper process that enforces the lease's deadline (\(step): "
                    + "\(String(cString: strerror(code)))); COMMAND was not run"
            }
        }
    }

    /// Starts a keeper for `lock`, armed with `validUntil` and `grace`, as
    /// the leader of a new process group, with every signal blocked until it
    /// has ignored them.
    init(lock: String, grace: Duration, validUntil: ContinuousClock.Instant) throws(StartError) {
        let (ordersRead, ordersWrite) = try Self.makePipe()
        let (reportsRead, reportsWrite): (Int32, Int32)
        do {
            (reportsRead, reportsWrite) = try Self.makePipe()
        } catch {
            close(ordersRead)
            close(ordersWrite)
            throw error
        }
        defer {
            close(ordersRead)
            close(reportsWrite)
        }
        // A keeper that stopped reading must not block a renewal: the write
        // fails instead (see tell(validUntil:)).
        _ = fcntl(ordersWrite, F_SETFL, fcntl(ordersWrite, F_GETFL) | O_NONBLOCK)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, ordersRead, KeeperProtocol.ordersDescriptor)
        posix_spawn_file_actions_adddup2(&actions, reportsWrite, KeeperProtocol.reportsDescriptor)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let nanoseconds = grace.components.seconds * 1_000_000_000 + grace.components.attoseconds / 1_000_000_000
        let arguments = ["rwlock", KeeperProtocol.argument, lock, String(nanoseconds),
                         String(KeeperClock.nanoseconds(of: validUntil))]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, Self.executable, &actions, &attributes, argv, environ)
        guard result == 0 else {
            close(ordersWrite)
            close(reportsRead)
            throw .failed("posix_spawn \(Self.executable)", errno: result)
        }
        self.pid = pid
        self.orders = ordersWrite
        watch(reports: reportsRead)
    }

    /// Tells the keeper the lease is now valid until `validUntil`. A keeper
    /// that cannot take it (its pipe is full: it has not read for thousands
    /// of renewals) no longer knows the deadline and is killed, which ends
    /// it unexpectedly (``onUnexpectedEnd(_:)``).
    func tell(validUntil: ContinuousClock.Instant) {
        let order = KeeperProtocol.Order.validUntil(KeeperClock.nanoseconds(of: validUntil))
        guard state.withLock({ !$0.standingDown && $0.ended == nil }), !send(order) else { return }
        state.withLock { $0.failure = $0.failure ?? "it stopped taking rwlock's deadlines and was killed" }
        _ = kill(pid, SIGKILL)
    }

    /// Whether the keeper signalled COMMAND's group because the lease's
    /// validity ran out (or rwlock seemed gone).
    var stoppedGroup: Bool { state.withLock { $0.terminated || $0.killed } }

    /// How the keeper ended without being stood down (killed by someone,
    /// crashed), or nil.
    var unexpectedEnd: String? {
        state.withLock { $0.endedUnexpectedly ? $0.ended : nil }
    }

    /// Calls `handler` (at once if it has already happened) when the keeper
    /// ends without having been stood down and without having stopped the
    /// group itself: COMMAND is then unprotected.
    func onUnexpectedEnd(_ handler: @escaping @Sendable (String) -> Void) {
        let ended = state.withLock { state -> String? in
            if state.killed || state.standingDown { return nil }
            if let ended = state.ended { return ended }
            state.onUnexpectedEnd = handler
            return nil
        }
        if let ended { handler(ended) }
    }

    /// The hold is over and COMMAND's group is gone: the keeper exits
    /// without signalling anything; returns once it has and was reaped.
    func standDown() async {
        state.withLock { $0.standingDown = true }
        _ = send(.standDown)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ended = state.withLock { state -> Bool in
                if state.ended == nil { state.endWaiters.append(continuation) }
                return state.ended != nil
            }
            if ended { continuation.resume() }
        }
        let reap = state.withLock { state -> Bool in
            defer { state.reaped = true }
            return !state.reaped
        }
        if reap {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        }
        close(orders)
    }

    // MARK: - Internals

    private func send(_ order: KeeperProtocol.Order) -> Bool {
        let bytes = order.bytes
        while true {
            let written = bytes.withUnsafeBytes { write(orders, $0.baseAddress, $0.count) }
            if written == bytes.count { return true }
            if written == -1 && errno == EINTR { continue }
            return false
        }
    }

    /// A thread of its own waits on the keeper (waitid blocks): a stopped
    /// keeper is resumed at once, since a stopped rwlock would leave no one
    /// keeping time; an ended one is recorded, its reports read, and an
    /// unexpected end handed to ``onUnexpectedEnd(_:)``. WNOWAIT leaves it
    /// unreaped (see the type's comment).
    private func watch(reports: Int32) {
        let thread = Thread { [self] in
            var ended = "it ended"
            while true {
                var info = siginfo_t()
                if waitid(P_PID, id_t(pid), &info, WEXITED | WSTOPPED | WNOWAIT) == -1 {
                    if errno == EINTR { continue }
                    break
                }
                #if os(Linux)
                let status = info._sifields._sigchld.si_status
                #else
                let status = info.si_status
                #endif
                if info.si_code == CLD_STOPPED {
                    _ = kill(pid, SIGCONT)
                    // WNOWAIT reports a stop until it is over: never spin
                    // on one that SIGCONT cannot end (a tracer's).
                    usleep(1000)
                    continue
                }
                ended = info.si_code == CLD_EXITED
                    ? "it exited with status \(status)" : "it was killed by signal \(status) (\(String(cString: strsignal(status))))"
                break
            }
            // It is gone, so every report it wrote is in the pipe, and the
            // pipe ends (nothing else holds its write end).
            var byte: UInt8 = 0
            var reported: [KeeperProtocol.Report] = []
            while true {
                let count = read(reports, &byte, 1)
                if count == 1 {
                    if let report = KeeperProtocol.Report(rawValue: byte) { reported.append(report) }
                } else if count == -1 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            close(reports)
            let (handler, waiters) = state.withLock { state in
                state.terminated = state.terminated || reported.contains(.terminated)
                state.killed = state.killed || reported.contains(.killed)
                state.ended = state.failure ?? ended
                defer { state.endWaiters = []; state.onUnexpectedEnd = nil }
                state.endedUnexpectedly = !state.killed && !state.standingDown
                return (state.endedUnexpectedly ? state.onUnexpectedEnd : nil, state.endWaiters)
            }
            handler?(state.withLock { $0.ended } ?? ended)
            for waiter in waiters { waiter.resume() }
        }
        thread.start()
    }

    /// The keeper is this very executable: on Linux /proc/self/exe, which
    /// still runs the same binary if a package upgrade replaced the file.
    private static let executable: String = {
        #if os(Linux)
        if access("/proc/self/exe", X_OK) == 0 { return "/proc/self/exe" }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }()

    /// A pipe whose ends are close-on-exec and numbered above the keeper's
    /// own descriptors (3, 4), so neither COMMAND nor the keeper inherits
    /// them by accident and the keeper's dup2 never meets itself.
    private static func makePipe() throws(StartError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw .failed("pipe", errno: errno) }
        defer { close(ends[0]); close(ends[1]) }
        let read = fcntl(ends[0], F_DUPFD_CLOEXEC, KeeperProtocol.reportsDescriptor + 1)
        let write = fcntl(ends[1], F_DUPFD_CLOEXEC, KeeperProtocol.reportsDescriptor + 1)
        guard read >= 0, write >= 0 else {
            let code = errno
            if read >= 0 { close(read) }
            if write >= 0 { close(write) }
            throw .failed("fcntl", errno: code)
        }
        return (read, write)
    }
}
