import Foundation
import Synchronization

/// Every thread one client starts (pool workers, the subscriber, the
/// Sentinel watcher), counted so that ``RWLockClient/shutdown()`` can wait
/// until the last of them has returned.
final class ClientThreads: Sendable {
    private struct State {
        var alive = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Starts `body` on a new thread of its own, counted until it returns.
    func start(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.alive += 1 }
        let thread = Thread { [self] in
            body()
            ended()
        }
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Threads started and not yet returned.
    var alive: Int { state.withLock { $0.alive } }

    /// Returns once no thread of this group runs. Threads started after it
    /// returned are not waited for: call it after everything was told to stop.
    func allEnded() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.alive == 0 { return true }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    private func ended() {
        let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.alive -= 1
            guard state.alive == 0 else { return [] }
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
