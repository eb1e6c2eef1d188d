import Synchronization

/// Where a client is in its life, and the scoped holds a drain waits for.
///
/// Running: acquires start. Draining (``RWLockClient/shutdown()`` or a
/// graceful shutdown of its `ServiceGroup` began): acquires fail at once,
/// waiting ones stop, scoped bodies already running go on with their
/// renewals until they return. Closed: every command fails.
final class ClientLifecycle: Sendable {
    enum Phase: Sendable { case running, draining, closed }

    private struct State {
        var phase = Phase.running
        /// Acquires under way and scoped holds (`withReadLock`,
        /// `withWriteLock`, `withLease`) not yet released.
        var active = 0
        var waitingForIdle: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var phase: Phase { state.withLock { $0.phase } }

    /// Counts an acquire or a scoped hold in, which a drain waits for;
    /// throws ``RWLockError/draining(_:)`` instead unless the client runs.
    /// Each successful call is matched by one ``leave()``.
    func enter(_ describe: @autoclosure () -> String) throws {
        let running = state.withLock { state -> Bool in
            guard state.phase == .running else { return false }
            state.active += 1
            return true
        }
        if !running { throw RWLockError.draining("\(describe()) was refused") }
    }

    /// Whether acquires may still start and wait.
    var isRunning: Bool { phase == .running }

    /// Moves from running to draining; false if that happened before.
    func beginDraining() -> Bool {
        state.withLock { state in
            guard state.phase == .running else { return false }
            state.phase = .draining
            return true
        }
    }

    /// Moves to closed, from any phase.
    func close() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.phase = .closed
            defer { state.waitingForIdle = [] }
            return state.waitingForIdle
        }
        for continuation in waiting { continuation.resume() }
    }

    /// An ``enter(_:)`` ended: its acquire returned, or its hold was released.
    func leave() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.active -= 1
            guard state.active == 0 else { return [] }
            defer { state.waitingForIdle = [] }
            return state.waitingForIdle
        }
        for continuation in waiting { continuation.resume() }
    }

    /// Returns once no acquire or scoped hold is under way, or the client closed.
    func activeEnded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.active == 0 || state.phase == .closed { return true }
                state.waitingForIdle.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }
}
