import Dispatch
import Foundation
import Synchronization

/// A fixed-size set of worker threads, each owning at most one
/// ``HiredisConnection``, fed by one FIFO queue of commands.
///
/// Why threads: hiredis blocks for up to the command timeout, and a
/// blocked cooperative-pool thread stalls unrelated Swift tasks (there are
/// only as many as cores). So every hiredis call runs on a worker `Thread`,
/// and an async caller just waits on a continuation that the worker resumes.
///
/// Memory stays constant whatever the number of callers: at most
/// `maxConnections` threads and connections exist; extra callers are queued
/// jobs (a continuation and their arguments). Workers start lazily, when
/// queued jobs outnumber idle workers, and each opens its connection on first
/// use and reopens it after it breaks.
final class ConnectionPool: Sendable {
    /// How to connect and how big the pool is.
    struct Configuration: Sendable {
        var endpoint: RedisEndpoint
        var maxConnections: Int
        var connectTimeout: Duration
        var commandTimeout: Duration
        /// The client's threads, which the workers join.
        var threads = ClientThreads()
    }

    /// Counters for tests and diagnostics.
    struct Statistics: Sendable, Equatable {
        /// Worker threads started so far (never more than `maxConnections`).
        var threadsStarted = 0
        /// Worker threads that have not exited yet.
        var threadsAlive = 0
        /// Successful connects, including reconnects after a break.
        var connectionsOpened = 0
        /// The most jobs ever running at the same time.
        var peakBusyWorkers = 0
    }

    /// One queued command or pipeline and the caller waiting for it.
    private struct Job: Sendable {
        let id: UInt64
        let commands: [[[UInt8]]]
        let isPipeline: Bool
        /// Queue the commands inside MULTI and discard them (a permission
        /// probe: see ``HiredisConnection/queueAndDiscard(_:)``).
        let discarded: Bool
        let requirements: ServerRequirements?
        let continuation: CheckedContinuation<[RESPValue], any Error>
    }

    private struct State: ~Copyable {
        var queue = JobQueue<Job>()
        var nextJobID: UInt64 = 0
        var idleWorkers = 0
        var busyWorkers = 0
        var isShutdown = false
        var statistics = Statistics()
    }

    /// What a worker does after waking up.
    private enum Next {
        case exit
        case sleepAgain
        case run(Job)
    }

    let configuration: Configuration
    private let state = Mutex(State())
    /// One permit per queued job (plus one per worker at shutdown). A permit
    /// may outlive its job when the job is cancelled; the worker that takes
    /// it finds the queue empty and waits again.
    private let wakeups = DispatchSemaphore(value: 0)

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    var statistics: Statistics { state.withLock { $0.statistics } }
    /// Commands waiting for a connection, and connections running one: lets
    /// tests wait for a queue state instead of sleeping.
    var load: (queued: Int, busy: Int) { state.withLock { ($0.queue.count, $0.busyWorkers) } }

    /// Runs `commands` on a pooled connection: as one command when
    /// `isPipeline` is false (exactly one element), else as a pipeline.
    /// Throws ``NotSent`` when no connection could be opened, or when the
    /// connection's server fails `requirements` (checked on that connection,
    /// just before sending; its INFO is read once per connection).
    ///
    /// A task cancelled while its job is still queued gets `CancellationError`
    /// and the job never runs; once a worker has taken the job it runs to
    /// completion, since a lock command half-abandoned would leave the caller
    /// not knowing whether it took effect.
    ///
    /// Inside ``RWLockClient/ignoringCancellation(_:)`` (``cancellable`` false)
    /// the job runs whether or not its task is cancelled.
    ///
    /// With `discarded`, the commands are queued inside MULTI and discarded
    /// instead (``HiredisConnection/queueAndDiscard(_:)``): the replies are
    /// MULTI's, then each command's queuing reply.
    func run(
        _ commands: [[[UInt8]]], isPipeline: Bool, requirements: ServerRequirements? = nil, discarded: Bool = false
    ) async throws -> [RESPValue] {
        let id = state.withLock { state in
            defer { state.nextJobID &+= 1 }
            return state.nextJobID
        }
        func job(_ continuation: CheckedContinuation<[RESPValue], any Error>) -> Job {
            Job(id: id, commands: commands, isPipeline: isPipeline, discarded: discarded,
                requirements: requirements.flatMap { $0.isEmpty ? nil : $0 }, continuation: continuation)
        }
        guard Self.cancellable else {
            return try await withCheckedThrowingContinuation { enqueue(job($0), checkingCancellation: false) }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { enqueue(job($0), checkingCancellation: true) }
        } onCancel: {
            cancel(jobID: id)
        }
    }

    /// Whether a cancelled task's queued jobs are dropped (see ``run(_:isPipeline:requirements:)``).
    @TaskLocal static var cancellable = true

    /// Fails every queued job with ``RWLockError/shutdown`` and lets every
    /// worker exit once its current job (if any) is done, closing its
    /// connection. Idempotent; does not wait for the threads.
    func shutdown() {
        let (rejected, workers) = state.withLock { state -> ([Job], Int) in
            guard !state.isShutdown else { return ([], 0) }
            state.isShutdown = true
            return (state.queue.removeAll(), state.statistics.threadsStarted)
        }
        // Each worker consumes exactly one permit and then exits.
        for _ in 0..<workers { wakeups.signal() }
        for job in rejected { job.continuation.resume(throwing: RWLockError.shutdown) }
    }

    // MARK: - Callers' side

    private func enqueue(_ job: Job, checkingCancellation: Bool) {
        let outcome = state.withLock { state -> Result<Int?, any Error> in
            if state.isShutdown { return .failure(RWLockError.shutdown) }
            // Checked under the lock so it cannot slip between this check and
            // `cancel(jobID:)`: cancellation sets the flag before running the
            // handler, which then waits for this lock and finds the job.
            if checkingCancellation && Task.isCancelled { return .failure(CancellationError()) }
            state.queue.append(job)
            guard state.queue.count > state.idleWorkers,
                state.statistics.threadsStarted < configuration.maxConnections
            else { return .success(nil) }
            let index = state.statistics.threadsStarted
            state.statistics.threadsStarted += 1
            state.statistics.threadsAlive += 1
            state.idleWorkers += 1
            return .success(index)
        }
        switch outcome {
        case .failure(let error):
            job.continuation.resume(throwing: error)
        case .success(let newWorker):
            if let newWorker { startWorker(index: newWorker) }
            wakeups.signal()
        }
    }

    private func cancel(jobID: UInt64) {
        let job = state.withLock { state in state.queue.remove { $0.id == jobID } }
        job?.continuation.resume(throwing: CancellationError())
    }

    // MARK: - Workers' side

    private func startWorker(index: Int) {
        // The thread keeps the pool alive until it exits after shutdown().
        // 1 MiB is ample: the deepest recursion is reply decoding, 7 levels.
        configuration.threads.start(name: "RWLock.redis.\(index)") { [self] in workerLoop() }
    }

    private func workerLoop() {
        blockSIGPIPEOnThisThread()
        // Owned by this thread alone, which is what makes a non-Sendable
        // HiredisConnection safe here.
        var connection: HiredisConnection? = nil
        while true {
            wakeups.wait()
            let next = state.withLock { state -> Next in
                state.idleWorkers -= 1
                if state.isShutdown {
                    state.statistics.threadsAlive -= 1
                    return .exit
                }
                guard let job = state.queue.popFirst() else {
                    state.idleWorkers += 1
                    return .sleepAgain
                }
                state.busyWorkers += 1
                state.statistics.peakBusyWorkers = max(state.statistics.peakBusyWorkers, state.busyWorkers)
                return .run(job)
            }
            switch next {
            case .exit:
                connection?.close()
                return
            case .sleepAgain:
                continue
            case .run(let job):
                let result = Result { try execute(job, on: &connection) }
                // Count this worker idle before resuming, so a caller the
                // resumption triggers does not start a needless thread.
                state.withLock { state in
                    state.busyWorkers -= 1
                    state.idleWorkers += 1
                }
                job.continuation.resume(with: result)
            }
        }
    }

    private func execute(_ job: Job, on connection: inout HiredisConnection?) throws -> [RESPValue] {
        if connection?.isClosedByPeer() ?? true {
            connection = nil
            do {
                connection = try HiredisConnection(
                    endpoint: configuration.endpoint,
                    connectTimeout: configuration.connectTimeout,
                    commandTimeout: configuration.commandTimeout
                )
            } catch let error as RWLockError {
                throw NotSent(error: error)
            }
            state.withLock { $0.statistics.connectionsOpened += 1 }
        }
        let open = connection!
        // A broken connection is dropped now; the next job reconnects.
        defer { if open.isBroken { connection = nil } }
        if let requirements = job.requirements {
            do {
                try verify(requirements, on: open)
            } catch let error as RWLockError {
                throw NotSent(error: error)
            }
        }
        if job.discarded { return try open.queueAndDiscard(job.commands) }
        if job.isPipeline { return try open.pipeline(job.commands) }
        return [try open.command(job.commands[0])]
    }

    /// R3/R4: reads the server's INFO the first time this connection is asked
    /// to grant, then judges `requirements` against it.
    private func verify(_ requirements: ServerRequirements, on connection: HiredisConnection) throws {
        if connection.serverProfile == nil {
            let replies = try connection.pipeline(ServerRequirements.infoCommands)
            // Only a reading is kept: a refusal is thrown (and met again by
            // the next grant on this connection).
            connection.serverProfile = try ServerRequirements.profile(fromReplies: replies, readAt: .now)
        }
        try requirements.verify(connection.serverProfile!, server: configuration.endpoint, now: .now)
    }

    /// hiredis writes with write(2), which raises SIGPIPE when the server has
    /// closed the socket; the default action kills the process. Blocking it
    /// on this thread only turns it into an EPIPE error, without changing the
    /// host application's process-wide signal handling.
    private func blockSIGPIPEOnThisThread() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
    }
}

/// The failure of a job that never reached the server: its connection
/// could not be opened (refused, timed out, AUTH or SELECT rejected). The
/// command certainly did not run, so a cluster client may send it elsewhere;
/// ``RWLockClient`` reports the wrapped error to its caller.
struct NotSent: Error {
    let error: RWLockError
}

/// A FIFO with O(1) append and pop and O(n) removal of one element (for
/// cancellation). Popped slots are cleared at once so a finished job's
/// arguments are not retained; the storage is compacted when half empty.
private struct JobQueue<Element> {
    private var slots: [Element?] = []
    private var head = 0

    var count: Int { slots.count - head }

    mutating func append(_ element: Element) { slots.append(element) }

    mutating func popFirst() -> Element? {
        guard head < slots.count else { return nil }
        let element = slots[head]
        slots[head] = nil
        head += 1
        compactIfSparse()
        return element
    }

    /// Removes and returns the first element matching `predicate`.
    mutating func remove(where predicate: (Element) -> Bool) -> Element? {
        guard let index = slots[head...].firstIndex(where: { $0.map(predicate) ?? false }) else { return nil }
        return slots.remove(at: index)
    }

    mutating func removeAll() -> [Element] {
        let remaining = slots[head...].compactMap { $0 }
        slots = []
        head = 0
        return remaining
    }

    private mutating func compactIfSparse() {
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }
}
