import ArgumentParser
import Dispatch
import Foundation
import RWLock
import Synchronization

/// Options shared by `read` and `write`.
struct HoldOptions: ParsableArguments {
    @Argument(help: "The lock's name.")
    var name: String

    @Option(help: ArgumentHelp("Lease length, renewed every third of it while COMMAND runs (at least 100ms).",
                               valueName: "duration"),
            transform: parseDuration)
    var lease: Duration = .seconds(1)

    @Option(help: ArgumentHelp("Give up (exit 75, or -E's code) if the lock is not granted within this; 0 tries once, "
                               + "as --no-wait; default: wait forever.", valueName: "duration"),
            transform: parseDurationOrZero)
    var timeout: Duration?

    @Flag(name: [.customShort("n"), .customLong("no-wait")],
          help: "Try once: if the lock is not granted at once, exit 75 (or -E's code) without running COMMAND.")
    var noWait = false

    @Option(name: [.customShort("E"), .customLong("conflict-exit-code")],
            help: ArgumentHelp("The exit status when the lock is not granted (--no-wait, --timeout), 0 to 255; default 75.",
                               valueName: "n"))
    var conflictExitCode: Int32?

    @Option(help: ArgumentHelp(
        "When no renewal was confirmed in time, COMMAND's process group gets SIGTERM this long before the lease's "
            + "validity ends and SIGKILL when it ends; 0 sends SIGKILL alone. At most half the lease; default a "
            + "third of it.", valueName: "duration"),
            transform: parseDurationOrZero)
    var killGrace: Duration?

    @Option(help: ArgumentHelp("Hard cap on the whole hold, renewals included (at least 100ms); COMMAND is stopped "
                               + "and rwlock exits 70 when it is reached.", valueName: "duration"),
            transform: parseDuration)
    var cap: Duration?

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var keys: PrefixOption

    @Option(help: ArgumentHelp(
        "Count a grant or renewal only once N replicas confirm it (WAIT, up to a third of the lease or 1s); "
            + "a grant they do not confirm is released and rwlock exits 69.", valueName: "n"))
    var replicas: Int?

    @Flag(help: ArgumentHelp("Take the lock even on a server that may evict its keys (maxmemory with a policy other "
                             + "than noeviction); without it such a server is refused with exit 78."))
    var allowEviction = false

    @Option(help: ArgumentHelp(
        "Grant nothing from a server up for less than this (a restart without persistence forgets every lease); "
            + "0 for none, only on servers that fsync every write. Default: the lease. Set it to the longest "
            + "lease any client of the lock uses.", valueName: "duration"),
            transform: parseDurationOrZero)
    var restartQuarantine: Duration?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run holding the lock, after --.",
                                                           valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. -- make deploy") }
        if let replicas, replicas < 1 { throw ValidationError("--replicas must be at least 1, got \(replicas)") }
        if let conflictExitCode, !(0...255).contains(conflictExitCode) {
            throw ValidationError("--conflict-exit-code must be from 0 to 255, got \(conflictExitCode)")
        }
        if noWait, let timeout, timeout > .zero {
            throw ValidationError("give either --no-wait or --timeout, not both")
        }
        if let killGrace, killGrace > lease / 2 {
            // SIGTERM would come before the first renewal (at a third of the
            // lease) had a fair chance to be confirmed.
            throw ValidationError(
                "--kill-grace \(killGrace.wholeMillisecondsText) does not fit in a lease of \(lease.wholeMillisecondsText): "
                    + "it must be at most half the lease, so that a renewal can be confirmed before COMMAND is told to stop")
        }
    }

    /// Try once instead of waiting.
    var triesOnce: Bool { noWait || timeout == .zero }

    /// What "not granted" exits with.
    var notGrantedStatus: Int32 { conflictExitCode ?? Exit.timedOut }

    /// The default grace, a third of the lease: SIGTERM comes at two thirds
    /// of a lease nothing renewed, after the first renewal (due at one third)
    /// has had a whole third to be confirmed, and COMMAND still gets a third
    /// of the lease to stop cleanly before SIGKILL.
    var grace: Duration { killGrace ?? lease / 3 }

    /// The lock's options: the lease, and replicated grants with a WAIT
    /// short enough to leave the lease useful and the client's 2 s command
    /// timeout unhit.
    func lockOptions(preferReaders: Bool) -> RWLock.Options {
        var options = RWLock.Options(lease: lease)
        options.keyPrefix = keys.prefix
        options.hardCap = cap
        options.preference = preferReaders ? .readers : .writers
        options.allowEviction = allowEviction
        if let restartQuarantine {
            options.restartQuarantine = restartQuarantine == .zero ? .disabled : .duration(restartQuarantine)
        }
        if let replicas {
            options.replicatedGrants = .init(replicas: replicas, timeout: min(lease / 3, .seconds(1)))
        }
        return options
    }
}

extension Duration {
    /// `1500ms`, as the options are written.
    var wholeMillisecondsText: String {
        let (seconds, attoseconds) = components
        return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
    }
}

struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Run COMMAND holding a read lease of lock NAME.",
        discussion: "RWLOCK_TOKEN is set to the lease's token; RWLOCK_FENCE is unset.")
    @OptionGroup var options: HoldOptions
    @Flag(help: "Get in whenever no writer holds the lock, even while writers wait (they may starve).")
    var preferReaders = false
    func run() async throws { await runHolding(.read, options, preferReaders: preferReaders) }
}

struct WriteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Run COMMAND holding the write lease of lock NAME.",
        discussion: "RWLOCK_FENCE is set to the grant's fencing token, RWLOCK_TOKEN to the lease's token.")
    @OptionGroup var options: HoldOptions
    func run() async throws { await runHolding(.write, options, preferReaders: false) }
}

/// What the signal handlers act on: the waiting task before COMMAND starts,
/// COMMAND after.
final class Forwarding: Sendable {
    private struct State {
        var child: ChildProcess?
        var signal: Int32?
    }
    private let state = Mutex(State())
    let task = Mutex<Task<Outcome, any Error>?>(nil)

    /// A signal arrived: forward it to COMMAND, or stop waiting for the lock.
    func received(_ signal: Int32) {
        let child = state.withLock { state -> ChildProcess? in
            if state.child == nil { state.signal = signal }
            return state.child
        }
        if let child { child.signal(signal) } else { task.withLock { $0?.cancel() } }
    }

    /// Records COMMAND; false if a signal already asked to stop.
    func started(_ child: ChildProcess) -> Bool {
        state.withLock { state in
            state.child = child
            return state.signal == nil
        }
    }

    var stoppingSignal: Int32? { state.withLock { $0.signal } }
}

enum Outcome: Sendable {
    case exited(Int32)
    case cannotStart(ChildProcess.SpawnError)
    /// The lease could not be proven valid in time and COMMAND's group was
    /// stopped (R2).
    case stoppedForLease
    /// --no-wait (or --timeout 0): the lock was not free.
    case notGranted
    /// Signal N came after the grant, before COMMAND started.
    case stoppedBeforeStart(Int32)
    /// The keeper could not be started; COMMAND was not run.
    case unprotected(KeeperLink.StartError)
    /// The keeper ended while COMMAND ran (killed by someone, or it stopped
    /// taking deadlines), and COMMAND's group was stopped.
    case keeperLost(String)
}

/// Kept for the life of the process.
nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []

func runHolding(_ mode: Lease.Mode, _ options: HoldOptions, preferReaders: Bool) async -> Never {
    let lock: RWLock
    do {
        let client = try options.connection.client()
        lock = try RWLock(name: options.name, client: client, options: options.lockOptions(preferReaders: preferReaders))
    } catch {
        Exit.fail(error)
    }
    // A stopped or killed rwlock renews nothing while COMMAND runs on: it
    // ignores the stop and tty signals and SIGPIPE, and forwards the rest.
    for signo in [SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE] { signal(signo, SIG_IGN) }
    // An inherited SIG_IGN would let the kernel reap COMMAND unseen.
    signal(SIGCHLD, SIG_DFL)
    let forwarding = Forwarding()
    for signo in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
        signal(signo, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
        source.setEventHandler { forwarding.received(signo) }
        source.resume()
        signalSources.append(source)
    }
    let base = ProcessInfo.processInfo.environment
    let arguments = options.command
    let (name, grace) = (options.name, options.grace)
    @Sendable func runCommand(_ lease: Lease) async -> Outcome {
        var environment = base
        environment["RWLOCK_TOKEN"] = lease.token
        environment["RWLOCK_FENCE"] = mode == .write ? lease.fence.map { String($0.value) } : nil
        // Asked to stop between the grant and here: COMMAND never starts.
        if let signo = forwarding.stoppingSignal { return .stoppedBeforeStart(signo) }
        // The keeper first: COMMAND never runs without a process outside
        // rwlock's own that stops it at the lease's deadline.
        let keeper: KeeperLink
        do {
            keeper = try KeeperLink(lock: name, grace: grace, validUntil: lease.validUntil)
        } catch {
            return .unprotected(error)
        }
        let child: ChildProcess
        do {
            child = try ChildProcess(arguments: arguments, environment: environment, group: keeper.pid)
        } catch {
            await keeper.standDown()
            return .cannotStart(error as? ChildProcess.SpawnError ?? .failed(command: arguments[0], errno: EINVAL))
        }
        // Without its keeper COMMAND is unprotected: a stopped or killed
        // rwlock could no longer stop it in time.
        keeper.onUnexpectedEnd { _ in child.signal(SIGKILL) }
        lease.onValidityExtended { validUntil in keeper.tell(validUntil: validUntil) }
        // A renewal confirmed before the line above.
        keeper.tell(validUntil: lease.validUntil)
        let watchdog = LeaseWatchdog(lease: lease, group: child)
        let watching = Task { await watchdog.run() }
        // A signal that came while COMMAND was being started reaches it now.
        if !forwarding.started(child) { child.signal(forwarding.stoppingSignal ?? SIGTERM) }
        // The hold lasts until the last process of COMMAND's group is gone,
        // as flock(1)'s does through inherited descriptors: members that
        // outlive COMMAND keep the lease renewed, and are stopped with the
        // rest if it is lost.
        let status = await withTaskCancellationHandler {
            let status = await child.wait()
            await child.waitForGroup()
            return status
        } onCancel: {
            // Lease lost (R1): the library cancels this task. Another holder
            // may be granted at once: SIGKILL now.
            watchdog.stop()
        }
        watching.cancel()
        await keeper.standDown()
        if watchdog.hasStopped || keeper.stoppedGroup { return .stoppedForLease }
        if let ended = keeper.unexpectedEnd { return .keeperLost(ended) }
        return .exited(status)
    }
    let triesOnce = options.triesOnce
    let timeout = options.timeout
    let task = Task<Outcome, any Error> {
        if triesOnce {
            return try await lock.withLeaseIfAvailable(mode) { lease in await runCommand(lease) } ?? .notGranted
        }
        return try await lock.withLease(mode, timeout: timeout) { lease in await runCommand(lease) }
    }
    forwarding.task.withLock { $0 = task }
    // A signal that came before the task was recorded.
    if forwarding.stoppingSignal != nil { task.cancel() }
    do {
        switch try await task.value {
        case .exited(let status):
            exit(status)
        case .cannotStart(let error):
            printError("rwlock: \(error)")
            exit(error.exitCode)
        case .stoppedForLease:
            printError("rwlock: the lease on lock \(options.name) was lost: no renewal was confirmed before its validity "
                       + "ran out, so COMMAND's process group was stopped (SIGTERM, then SIGKILL) before another holder "
                       + "could be granted")
            exit(Exit.leaseLost)
        case .keeperLost(let how):
            printError("rwlock: the keeper process that enforces lock \(options.name)'s lease deadline ended while "
                       + "COMMAND ran (\(how)), so COMMAND's process group was stopped (SIGKILL): without it nothing "
                       + "would stop COMMAND in time if rwlock were stopped or killed")
            exit(Exit.leaseLost)
        case .unprotected(let error):
            printError("rwlock: \(error)")
            exit(Exit.cannotProtect)
        case .stoppedBeforeStart(let signo):
            printError("rwlock: stopped by signal \(signo) before COMMAND started")
            exit(128 + signo)
        case .notGranted:
            printError("rwlock: lock \(options.name) is not available for \(mode == .write ? "writing" : "reading"); not waiting")
            exit(options.notGrantedStatus)
        }
    } catch let error as RWLockError where error.kind == .cancelled {
        let signo = forwarding.stoppingSignal ?? SIGTERM
        printError("rwlock: stopped by signal \(signo) while waiting for lock \(options.name)")
        exit(128 + signo)
    } catch let error as RWLockError where error.kind == .timedOut {
        printError("rwlock: \(error)")
        exit(options.notGrantedStatus)
    } catch {
        Exit.fail(error)
    }
}
