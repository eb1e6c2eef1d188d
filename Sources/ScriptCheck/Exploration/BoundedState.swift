/// BOUND, the lock's state stays bounded: the contract promises constant memory
/// per lock, holder and waiter, so the sorted sets (readers, caps, queue,
/// intents) may hold little beyond the live leases and intents they record.
///
/// Two rules, checked after every call against the oracle (never against
/// the scripts' own view):
/// - A call that ends a live lease or intent (release, withdraw, a grant
///   that consumes the writer's intent) leaves none of its entries behind.
/// - A call that adds a member to a set leaves nothing stale in that set:
///   entries of leases and intents that ran out meanwhile go no later than
///   the set's next addition.
///
/// Together they bound every set by its live members plus those that were
/// live at its last addition. Without the first, a released capped reader's
/// caps entry stays until the caps key expires, and every new capped reader
/// pushes that expiry on: under a steady stream the set grows without end.
/// Without the second, so do the entries of readers that crashed.
extension World {
    /// The sets, by index into `World.keys`, and whose entries each holds.
    private static let sets: [(key: Int, holdsIntents: Bool)] = [(1, false), (2, false), (3, true), (4, true)]

    func boundedState(after operation: LockOperation, token: String, before: MockRedis, recordBefore: Oracle) -> Violation? {
        let now = nowMs
        func members(_ state: MockRedis, _ key: Int) -> [RedisKey: Double] {
            guard case .zset(let set) = state.peek(World.keys[key]) else { return [:] }
            return set.scores
        }
        func isLive(_ member: String, intents: Bool, in record: Oracle) -> Bool {
            intents ? (record.intents[member].map { $0 > now } ?? false)
                    : (record.live(member, at: now).map { !$0.write } ?? false)
        }
        let name = RedisKey(Array(token.utf8))
        for (key, holdsIntents) in World.sets {
            let after = members(redis, key)
            let ended = isLive(token, intents: holdsIntents, in: recordBefore) && !isLive(token, intents: holdsIntents, in: oracle)
            if ended, after[name] != nil {
                return Violation(invariant: "BOUND", message: "\(operation.rawValue).lua ended \(token)'s \(holdsIntents ? "intent" : "read lease") but left it in \(String(decoding: World.keys[key], as: UTF8.self))")
            }
            let earlier = members(before, key)
            guard after.keys.contains(where: { earlier[$0] == nil }) else { continue }
            let stale = after.keys.map { String(decoding: $0.bytes, as: UTF8.self) }
                .filter { !isLive($0, intents: holdsIntents, in: oracle) }.sorted()
            if let first = stale.first {
                return Violation(invariant: "BOUND", message: "\(operation.rawValue).lua added to \(String(decoding: World.keys[key], as: UTF8.self)) and left \(first) there, which holds no live \(holdsIntents ? "intent" : "read lease") (\(stale.count) stale)")
            }
        }
        return nil
    }
}
