import Foundation

/// Runs CPU-heavy synchronous work (a whole checker run, seconds long) on a
/// thread of its own and awaits it, so it does not hold one of the few
/// cooperative-pool threads that every other test - the latency-bound live
/// lock tests included - needs while it runs.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
