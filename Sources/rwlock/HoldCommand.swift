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

    @Option(help: ArgumentHelp("Give up (exit 75) if the lock is not granted within this; default: wait forever.",
                               valueName: "duration"),
            transform: parseDuration)
    var timeout: Duration?

    @Option(help: ArgumentHelp("Redis URL (redis://, unix://, or redis+cluster://host:port,... for a cluster); default: $REDIS_URL, else redis://127.0.0.1:6379.", valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp(
        "Count a grant or renewal only once N replicas confirm it (WAIT, up to a third of the lease or 1s); "
            + "a grant they do not confirm is released and rwlock exits 69.", valueName: "n"))
    var replicas: Int?

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The command to run holding the lock, after --.",
                                                           valueName: "command"))
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --, e.g. -- make deploy") }
        if let replicas, replicas < 1 { throw ValidationError("--replicas must be at least 1, got \(replicas)") }
    }

    /// The lock's options: the lease, and replicated grants with a WAIT
    /// short enough to leave the lease useful and the client's 2 s command
    /// timeout unhit.
    var lockOptions: RWLock.Options {
        var options = RWLock.Options(lease: lease)
        if let replicas {
            options.replicatedGrants = .init(replicas: replicas, timeout: min(lease / 3, .seconds(1)))
        }
        return options
    }
}

struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Run COMMAND holding a read lease of lock NAME.",
        discussion: "RWLOCK_TOKEN is set to the lease's token; RWLOCK_FENCE is unset.")
    @OptionGroup var options: HoldOptions
    func run() async throws { await runHolding(.read, options) }
}

struct WriteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Run COMMAND holding the write lease of lock NAME.",
        discussion: "RWLOCK_FENCE is set to the grant's fencing token, RWLOCK_TOKEN to the lease's token.")
    @OptionGroup var options: HoldOptions
    func run() async throws { await runHolding(.write, options) }
}

/// How long COMMAND gets between SIGTERM and SIGKILL once the lease is lost.
let killGrace: Duration = .seconds(5)

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
}

/// Kept for the life of the process.
nonisolated(unsafe) var signalSources: [any DispatchSourceSignal] = []

func runHolding(_ mode: Lease.Mode, _ options: HoldOptions) async -> Never {
    let lock: RWLock
    do {
        let client = try RedisClient(url: options.url)
        lock = try RWLock(name: options.name, client: client, options: options.lockOptions)
    } catch {
        Exit.fail(error)
    }
    let forwarding = Forwarding()
    for signo in [SIGINT, SIGTERM] {
        signal(signo, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signo, queue: .global())
        source.setEventHandler { forwarding.received(signo) }
        source.resume()
        signalSources.append(source)
    }
    let base = ProcessInfo.processInfo.environment
    let arguments = options.command
    let timeout = options.timeout
    let task = Task<Outcome, any Error> {
        try await lock.withLease(mode, timeout: timeout) { lease in
            var environment = base
            environment["RWLOCK_TOKEN"] = lease.token
            environment["RWLOCK_FENCE"] = mode == .write ? lease.fence.map { String($0.value) } : nil
            let child: ChildProcess
            do {
                child = try ChildProcess(arguments: arguments, environment: environment)
            } catch let error as ChildProcess.SpawnError {
                return .cannotStart(error)  // the lease is released before exiting
            }
            guard forwarding.started(child) else {
                child.signal(forwarding.stoppingSignal ?? SIGTERM)
                return .exited(await child.wait())
            }
            // Lease lost (R1): the library cancels this task; stop COMMAND.
            return .exited(await withTaskCancellationHandler {
                await child.wait()
            } onCancel: {
                child.terminate(grace: killGrace)
            })
        }
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
        }
    } catch let error as RWLockError where error.kind == .cancelled {
        let signo = forwarding.stoppingSignal ?? SIGTERM
        printError("rwlock: stopped by signal \(signo) while waiting for lock \(options.name)")
        exit(128 + signo)
    } catch {
        Exit.fail(error)
    }
}
