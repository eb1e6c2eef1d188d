import Synchronization

/// Remembers what each lock script did from each mock state, so the search
/// runs a script once per distinct input however many schedules reach it.
///
/// Why this loses no proof: a script's run is a pure function of the mock's
/// state (its live keys with their expiries, and the clock), the script, and its
/// arguments. KEYS are the lock's, the globals are read-only, and the only
/// other source of variety, `math.random`, is refused by lint and, should a
/// run draw from it anyway, keeps that run out of the memo. A hit is found by
/// full equality of the key, never by hash alone, and gives back exactly the
/// reply, the S7 verdict on the commands it ran, the resulting state and the
/// messages it published. Most schedules differ only in what clients believe,
/// so about three runs in four are hits.
///
/// The search threads share one memo, as they share the visited table: their
/// subtrees meet the same states. Memory stays bounded: two generations of
/// at most `capacity` entries each; when the newer fills, the older is
/// dropped. Depth-first search revisits recent states most, so the newest
/// entries are the ones kept.
final class RunMemo: Sendable {
    struct Key: Hashable, Sendable {
        let operation: LockOperation
        let arguments: [[UInt8]]
        /// The mock before the run, with its PUBLISH log cleared and its
        /// expired keys purged: neither changes what a script can see.
        let redis: MockRedis
        /// Computed once: a miss looks the key up and then stores it.
        private let hash: Int

        init(operation: LockOperation, arguments: [[UInt8]], redis: MockRedis) {
            self.operation = operation
            self.arguments = arguments
            self.redis = redis
            var hasher = Hasher()
            hasher.combine(operation)
            for argument in arguments { StateHashing.combine(argument, into: &hasher) }
            hasher.combine(redis)
            hash = hasher.finalize()
        }

        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
        static func == (a: Key, b: Key) -> Bool {
            a.hash == b.hash && a.operation == b.operation && a.arguments == b.arguments && a.redis == b.redis
        }
    }

    struct Outcome: Sendable {
        var reply: RedisReply
        /// `World.hygiene` of the run: S7 and S5 findings about the commands.
        var hygiene: Violation?
        /// The mock after the run; its PUBLISH log holds what the run published.
        var redis: MockRedis
    }

    let capacity: Int
    private let tables: Mutex<Tables>

    private struct Tables: Sendable {
        var newer: [Key: Outcome] = [:]
        var older: [Key: Outcome] = [:]
        var hits = 0
    }

    /// Runs served so far.
    var hits: Int { tables.withLock { $0.hits } }

    init(capacity: Int = 60_000) {
        self.capacity = capacity
        var tables = Tables()
        tables.newer.reserveCapacity(capacity)
        self.tables = Mutex(tables)
    }

    func outcome(for key: Key) -> Outcome? {
        tables.withLock { tables in
            guard let found = tables.newer[key] ?? tables.older[key] else { return nil }
            tables.hits += 1
            return found
        }
    }

    func store(_ outcome: Outcome, for key: Key) {
        let capacity = self.capacity
        tables.withLock { tables in
            if tables.newer.count >= capacity {
                tables.older = tables.newer
                tables.newer = [:]
                tables.newer.reserveCapacity(capacity)
            }
            tables.newer[key] = outcome
        }
    }
}
