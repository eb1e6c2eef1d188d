extension RWLock {
    /// What ``inspect()`` saw: the lock's holders, waiting writers and last
    /// fence, at one instant of the server's clock.
    public struct Snapshot: Sendable, Hashable {
        /// A live write lease.
        public struct Writer: Sendable, Hashable {
            /// The lease's token.
            public var token: String
            /// Milliseconds left before the lease ends unless renewed.
            public var leaseMillisecondsLeft: Int64
            /// The lease's fencing token.
            public var fence: Fence
        }
        /// A live read lease, or a waiting writer's intent.
        public struct Entry: Sendable, Hashable {
            /// The lease's (or waiting writer's) token.
            public var token: String
            /// Milliseconds left before the lease (or intent) ends unless refreshed.
            public var millisecondsLeft: Int64
        }
        /// The write holder, if any.
        public var writer: Writer?
        /// The read holders.
        public var readers: [Entry]
        /// The waiting writers, in the order they will be served.
        public var waiting: [Entry]
        /// The last fencing token granted; `nil` when none is stored.
        public var lastFence: Fence?
    }

    /// Reads the lock's state for operators (inspect.lua); changes nothing.
    ///
    /// - Throws: ``RWLockError`` `.server` when a key of the lock holds the
    ///   wrong type, `.protocolError`, `.connection`.
    public func inspect() async throws -> Snapshot {
        let reply = try await client.run(.inspect, keys: keys, arguments: [])
        func bad() -> RWLockError {
            .protocolError("inspect.lua answered \(reply), not {bulk, int, int, int, {...}, {...}} as its header documents")
        }
        guard case .array(let items) = reply, items.count == 6,
            let writerToken = items[0].string,
            case .integer(let writerLeft) = items[1], case .integer(let writerFence) = items[2],
            case .integer(let lastFence) = items[3],
            case .array(let readerItems) = items[4], case .array(let waitingItems) = items[5]
        else { throw bad() }
        func entries(_ flat: [RESPValue]) throws -> [Snapshot.Entry] {
            guard flat.count % 2 == 0 else { throw bad() }
            return try stride(from: 0, to: flat.count, by: 2).map { index in
                guard let token = flat[index].string, case .integer(let left) = flat[index + 1] else { throw bad() }
                return Snapshot.Entry(token: token, millisecondsLeft: left)
            }
        }
        return Snapshot(
            writer: writerToken.isEmpty
                ? nil
                : .init(token: writerToken, leaseMillisecondsLeft: writerLeft, fence: Fence(UInt64(max(0, writerFence)))),
            readers: try entries(readerItems),
            waiting: try entries(waitingItems),
            lastFence: lastFence > 0 ? Fence(UInt64(lastFence)) : nil)
    }

    /// Ends the lease of `token`, whoever holds it (release.lua), and wakes
    /// the waiters: an operator's eviction of a stuck holder. The evicted
    /// holder finds out at its next renewal (`.leaseLost`).
    ///
    /// - Returns: whether `token` held a live lease.
    public func evict(token: String) async throws -> Bool {
        guard !token.isEmpty, token.utf8.count <= 200 else {
            throw RWLockError.invalidConfiguration("a lease token is 1 to 200 bytes, got \(token.utf8.count)")
        }
        let reply = try await client.run(.release, keys: keys, arguments: [Array(token.utf8)])
        return try ScriptReply.integer(reply, from: .release) == 1
    }

    /// Deletes the lock's stored keys (writer, readers, caps, queue, intents)
    /// but keeps the last fence, so fencing tokens keep growing (S6) even
    /// across a server clock step backwards. Every holder's lease and every
    /// waiting writer's intent is gone; holders find out at their next
    /// renewal. For operators only: it does not wake waiters at once (they
    /// re-check within their retry interval).
    ///
    /// - Returns: how many keys existed and were deleted.
    @discardableResult
    public func reset() async throws -> Int {
        let reply = try await client.send([Array("DEL".utf8)] + keys[0..<5], routingKey: keys[0]).throwingServerError()
        guard case .integer(let deleted) = reply else {
            throw RWLockError.protocolError("DEL answered \(reply), not an integer")
        }
        return Int(deleted)
    }
}
