import Synchronization

@testable import RWLock

/// A value shared between test tasks.
final class Box<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    var value: Value { mutex.withLock { $0 } }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// Who was inside the lock when, on this process's monotonic clock.
final class Timeline: Sendable {
    struct Visit: Sendable {
        let mode: Lease.Mode
        let enter: ContinuousClock.Instant
        let leave: ContinuousClock.Instant
    }
    private let visits = Mutex<[Visit]>([])

    func record(_ mode: Lease.Mode, _ work: () async throws -> Void) async rethrows {
        let enter = ContinuousClock.now
        try await work()
        let leave = ContinuousClock.now
        visits.withLock { $0.append(Visit(mode: mode, enter: enter, leave: leave)) }
    }

    var all: [Visit] { visits.withLock { $0 } }

    /// S1 and S2: every pair of visits that overlap in time is two reads.
    func overlapsBreakingExclusion() -> [(Visit, Visit)] {
        let sorted = all.sorted { $0.enter < $1.enter }
        var bad: [(Visit, Visit)] = []
        for (index, first) in sorted.enumerated() {
            for second in sorted[(index + 1)...] {
                guard second.enter < first.leave else { break }
                if first.mode == .write || second.mode == .write { bad.append((first, second)) }
            }
        }
        return bad
    }
}
