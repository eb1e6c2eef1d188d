#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The keeper: R2 enforced from outside rwlock's own process.
///
/// rwlock runs itself again as `rwlock __keeper …` before COMMAND, as the
/// leader of a new process group that COMMAND then joins. The keeper holds
/// no Redis connection and sends nothing to Redis; it only keeps time. From
/// the deadlines rwlock confirms (``KeeperProtocol/Order``) it sends the
/// group SIGTERM the kill grace before the last one and SIGKILL at it, on
/// its own clock, so a stopped rwlock cannot delay them; and when rwlock
/// disappears (its end of the orders pipe closes without "stand down") it
/// sends SIGTERM at once and SIGKILL a grace later, never past the deadline.
///
/// Why a member of COMMAND's group, and its leader:
/// - COMMAND's group exists before COMMAND does, and its id is known to
///   the keeper from birth: there is no moment at which COMMAND runs and
///   the keeper does not know which group to stop.
/// - The group's id cannot be reused by an unrelated group while the keeper
///   lives, so a late signal can only reach COMMAND's own processes.
/// - Signals rwlock's own process group gets (a job controller stopping
///   rwlock's job, a shell's hang-up) do not reach it.
///
/// It ignores every signal that can be ignored, so COMMAND's signal games
/// (`kill 0`, a trap, SIGUSR1 to the group) leave it running; SIGSTOP to the
/// whole group stops COMMAND too (nothing of the group runs meanwhile), and
/// rwlock resumes both. Only SIGKILL ends it, and rwlock, its parent, sees
/// that and stops the group itself.
enum Keeper {
    /// Runs a keeper from its arguments (`__keeper LOCK GRACE_NS UNTIL_NS`)
    /// and never returns.
    static func main(_ arguments: [String]) -> Never {
        ignoreSignals()
        guard arguments.count == 4, let grace = Int64(arguments[2]), let validUntil = Int64(arguments[3]),
            fcntl(KeeperProtocol.ordersDescriptor, F_GETFD) != -1, fcntl(KeeperProtocol.reportsDescriptor, F_GETFD) != -1
        else {
            say("rwlock: \(KeeperProtocol.argument) is rwlock's own keeper process, not a command to run")
            exit(64)
        }
        closeInheritedDescriptors()
        var keeper = Loop(lock: arguments[1], rwlock: getppid(), schedule: KeeperSchedule(grace: grace, validUntil: validUntil))
        keeper.run()
    }

    private struct Loop {
        let lock: String
        /// rwlock's pid, for the message when it is gone.
        let rwlock: pid_t
        var schedule: KeeperSchedule
        var buffer: [UInt8] = []
        var rwlockGone = false

        mutating func run() -> Never {
            while true {
                for action in schedule.due(at: KeeperClock.now()) { perform(action) }
                guard let next = schedule.nextEvent else { exit(0) }
                let left = next - KeeperClock.now()
                if left <= 0 { continue }
                if rwlockGone || left < 1_000_000 {
                    // Nothing to read any more, or less than poll(2)'s
                    // millisecond: sleep to the nanosecond. An order
                    // arriving meanwhile waits for the next turn.
                    Keeper.sleep(until: next)
                    continue
                }
                var descriptor = pollfd(fd: KeeperProtocol.ordersDescriptor, events: Int16(POLLIN), revents: 0)
                // Rounded down: the loop wakes at most a millisecond early
                // and finishes with sleep(until:), never late.
                let ready = poll(&descriptor, 1, Int32(min(left / 1_000_000, Int64(Int32.max))))
                if ready > 0 { readOrders() }
            }
        }

        private mutating func readOrders() {
            var chunk = [UInt8](repeating: 0, count: 512)
            let count = chunk.withUnsafeMutableBytes { read(KeeperProtocol.ordersDescriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { return }
                lost("rwlock's orders could not be read (\(String(cString: strerror(errno))))")
                return
            }
            if count == 0 {
                lost("rwlock (pid \(rwlock)) is gone")
                return
            }
            buffer += chunk[..<count]
            guard let orders = KeeperProtocol.Order.decode(&buffer) else {
                lost("rwlock sent an order the keeper does not know")
                return
            }
            for order in orders {
                switch order {
                case .validUntil(let deadline): schedule.confirm(validUntil: deadline)
                case .standDown: exit(0)
                }
            }
        }

        /// rwlock is gone: nobody renews the lease or stops the group but us.
        private mutating func lost(_ why: String) {
            rwlockGone = true
            close(KeeperProtocol.ordersDescriptor)
            let now = KeeperClock.now()
            schedule.rwlockGone(at: now)
            let killIn = (schedule.killAt - now) / 1_000_000
            Keeper.say("rwlock: keeper of lock \(lock): \(why) while COMMAND held the lock; its process group gets "
                + (killIn > 0 ? "SIGTERM now and SIGKILL in \(killIn) ms" : "SIGKILL now"))
        }

        private func perform(_ action: KeeperSchedule.Action) {
            let group = getpgrp()
            switch action {
            case .terminate:
                _ = kill(-group, SIGTERM)
                // A stopped member holds SIGTERM pending until continued.
                _ = kill(-group, SIGCONT)
                report(.terminated)
            case .kill:
                report(.killed)
                // The keeper is a member too: this ends it with the rest,
                // after the kernel has signalled every member.
                _ = kill(-group, SIGKILL)
                exit(0)
            }
        }

        private func report(_ report: KeeperProtocol.Report) {
            var byte = report.rawValue
            _ = write(KeeperProtocol.reportsDescriptor, &byte, 1)
        }
    }

    /// Every signal that can be ignored is: SIGKILL and SIGSTOP cannot,
    /// SIGCONT and SIGCHLD are harmless. rwlock starts the keeper with
    /// every signal blocked, so none can strike before this runs.
    private static func ignoreSignals() {
        var action = sigaction()
        #if os(Linux)
        action.__sigaction_handler.sa_handler = SIG_IGN
        let last: Int32 = 64
        #else
        action.__sigaction_u.__sa_handler = SIG_IGN
        let last: Int32 = NSIG - 1
        #endif
        sigemptyset(&action.sa_mask)
        for signal in 1...last where ![SIGKILL, SIGSTOP, SIGCONT, SIGCHLD].contains(signal) {
            // Fails harmlessly for numbers the C library reserves.
            _ = sigaction(signal, &action, nil)
        }
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
    }

    /// Descriptors rwlock had open without close-on-exec (its Redis
    /// sockets) are not the keeper's to hold.
    private static func closeInheritedDescriptors() {
        var open: [Int32] = []
        #if os(Linux)
        if let directory = opendir("/proc/self/fd") {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let descriptor = Int32(name), descriptor != dirfd(directory) { open.append(descriptor) }
            }
            closedir(directory)
        }
        #endif
        for descriptor in open where descriptor > KeeperProtocol.reportsDescriptor { close(descriptor) }
    }

    /// Sleeps until `deadline` of ``KeeperClock``.
    fileprivate static func sleep(until deadline: Int64) {
        #if os(Linux)
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_BOOTTIME, TIMER_ABSTIME, &time, nil) == EINTR {}
        #else
        while case let left = deadline - KeeperClock.now(), left > 0 {
            var pause = timespec(tv_sec: Int(left / 1_000_000_000), tv_nsec: Int(left % 1_000_000_000))
            nanosleep(&pause, nil)
        }
        #endif
    }

    fileprivate static func say(_ message: String) {
        let line = Array((message + "\n").utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
