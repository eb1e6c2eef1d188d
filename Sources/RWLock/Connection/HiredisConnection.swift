import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One blocking connection to Redis through hiredis.
///
/// This is the only file that calls hiredis or touches its pointers: every
/// other part of RWLock sees ``RESPValue``s and ``RWLockError``s.
///
/// Not thread-safe and deliberately not `Sendable`: a connection belongs to
/// one thread at a time (``RedisClient`` gives each its own worker thread).
/// Every call blocks that thread for up to the command timeout, so never use
/// one from Swift's cooperative thread pool (an `async` function) except in
/// tests.
///
/// When a call fails at the connection level (I/O error, timeout, EOF,
/// undecodable reply) the connection is *broken*: the hiredis context is
/// freed at once, ``isBroken`` becomes true and every later call throws. The
/// owner discards it and opens a new one; hiredis's own reconnect is not
/// used, because a half-sent command must never be silently retried on a
/// lock.
///
/// Writing to a socket the server has closed raises SIGPIPE, which kills the
/// process unless SIGPIPE is ignored or blocked on the calling thread.
/// ``RedisClient``'s worker threads block it; a direct user (a test, a tool)
/// must do one or the other.
final class HiredisConnection {
    /// The server this connection talks to.
    let endpoint: RedisEndpoint
    /// How long one command may wait for its reply before the connection is
    /// broken. Blocking commands (BLPOP...) must stay below it.
    let commandTimeout: Duration

    /// The hiredis context; nil once the connection is broken or closed.
    private var context: UnsafeMutablePointer<redisContext>?

    /// The server's INFO as read for ``ServerRequirements``, once per
    /// connection (a restart breaks the connection, so it cannot go stale);
    /// nil until a command first needs it.
    var serverProfile: ServerProfile?

    /// True once a call failed at the connection level or ``close()`` ran.
    var isBroken: Bool { context == nil }

    /// Connects, sets the command timeout, then sends `AUTH` (when the
    /// endpoint has a password) and `SELECT` (when its database is not 0).
    ///
    /// - Throws: ``RWLockError`` — `.invalidConfiguration` for a non-positive
    ///   timeout, `.connection` when the server cannot be reached (the message
    ///   carries hiredis's error text), `.server` when Redis rejects `AUTH` or
    ///   `SELECT` (for example `WRONGPASS ...`).
    init(endpoint: RedisEndpoint, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(2)) throws {
        for (name, value) in [("connect timeout", connectTimeout), ("command timeout", commandTimeout)] {
            guard value > .zero else {
                throw RWLockError.invalidConfiguration("the \(name) must be positive, got \(value)")
            }
        }
        self.endpoint = endpoint
        self.commandTimeout = commandTimeout

        let connectTimeval = Self.makeTimeval(connectTimeout)
        let newContext: UnsafeMutablePointer<redisContext>? =
            switch endpoint.address {
            case .tcp(let host, let port): redisConnectWithTimeout(host, Int32(port), connectTimeval)
            case .unixSocket(let path): redisConnectUnixWithTimeout(path, connectTimeval)
            }
        // hiredis returns NULL only when it could not allocate the context.
        guard let newContext else {
            throw RWLockError.connection("cannot connect to \(endpoint): hiredis could not allocate a context")
        }
        if chiredis_err(newContext) != 0 {
            let reason = String(cString: chiredis_errstr(newContext))
            redisFree(newContext)
            throw RWLockError.connection("cannot connect to \(endpoint): \(reason)")
        }
        context = newContext
        // hiredis opens its socket without close-on-exec: a process this one
        // starts (rwlock's COMMAND) must not hold the connection open.
        _ = fcntl(newContext.pointee.fd, F_SETFD, FD_CLOEXEC)

        // From here on a throw runs deinit, which frees the context.
        guard redisSetTimeout(newContext, Self.makeTimeval(commandTimeout)) == REDIS_OK else {
            throw breakConnection()
        }
        try logIn()
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Closes the connection now instead of at deinit. Later calls throw.
    func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Whether the server has closed this idle connection (it restarted, a
    /// cluster node was killed, CLIENT KILL, idle timeout): checked with a
    /// zero-timeout poll(2) before a command is sent, so the command goes to
    /// a fresh connection instead of failing with an outcome the caller
    /// cannot know. An idle request/reply connection never has data waiting,
    /// so anything readable (EOF, an error) means it is finished; it is then
    /// closed.
    func isClosedByPeer() -> Bool {
        guard let context else { return true }
        var descriptor = pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0, descriptor.revents != 0 else { return false }
        close()
        return true
    }

    /// Sends one command and waits for its reply.
    ///
    /// Arguments are bytes and may contain anything, `\0` included (hiredis's
    /// argv form is binary-safe). An error reply comes back as
    /// ``RESPValue/error(_:)``, not as a throw.
    ///
    /// - Throws: ``RWLockError`` `.connection` (I/O error, timeout, server
    ///   closed the connection) or `.protocolError`; either breaks the
    ///   connection.
    func command(_ args: [[UInt8]]) throws -> RESPValue {
        let context = try usableContext()
        let raw = try Self.withArgv(args) { argc, argv, argvlen in
            redisCommandArgv(context, argc, argv, argvlen)
        }
        guard let raw else { throw breakConnection() }
        defer { freeReplyObject(raw) }
        return try decodeOrBreak(raw)
    }

    /// Sends all commands in one write, then reads one reply per command, in
    /// order. Error replies are elements of the result, as with ``command(_:)``.
    ///
    /// - Throws: as ``command(_:)``; the replies already read are lost and
    ///   the connection is broken, since the stream is no longer in step.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RESPValue] {
        let context = try usableContext()
        for args in commands {
            let status = try Self.withArgv(args) { argc, argv, argvlen in
                redisAppendCommandArgv(context, argc, argv, argvlen)
            }
            // Only fails when out of memory; the output buffer may then hold a
            // partial command, so the connection cannot be reused.
            guard status == REDIS_OK else { throw breakConnection() }
        }
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer? = nil
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw breakConnection() }
            defer { freeReplyObject(raw) }
            replies.append(try decodeOrBreak(raw))
        }
        return replies
    }

    // MARK: - Pub/sub (the subscriber connection)

    /// Writes a command without reading its reply: for SUBSCRIBE and
    /// UNSUBSCRIBE, whose confirmations arrive among the pushed messages
    /// that ``nextPushedReply(waitingUpTo:orUntilReadable:)`` reads.
    ///
    /// - Throws: as ``command(_:)``; the connection is then broken.
    func sendWithoutReply(_ args: [[UInt8]]) throws {
        let context = try usableContext()
        let status = try Self.withArgv(args) { argc, argv, argvlen in
            redisAppendCommandArgv(context, argc, argv, argvlen)
        }
        guard status == REDIS_OK else { throw breakConnection() }
        var done: Int32 = 0
        while done == 0 {
            guard redisBufferWrite(context, &done) == REDIS_OK else { throw breakConnection() }
        }
    }

    /// The next reply the server pushes on a subscribed connection (a
    /// message or a subscription confirmation), waiting at most `timeout` or
    /// until `wakeDescriptor` becomes readable; nil if neither brought one.
    ///
    /// Unlike ``command(_:)``, running out of time does not break the
    /// connection: the wait is poll(2) on the socket, and hiredis reads only
    /// once data is there.
    ///
    /// - Throws: ``RWLockError`` `.connection` (EOF, I/O error) or
    ///   `.protocolError`; either breaks the connection.
    func nextPushedReply(waitingUpTo timeout: Duration, orUntilReadable wakeDescriptor: Int32) throws -> RESPValue? {
        let context = try usableContext()
        if let buffered = try bufferedReply(context) { return buffered }
        var descriptors = [
            pollfd(fd: context.pointee.fd, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
        ]
        let milliseconds = Int32(clamping: max(timeout.wholeMilliseconds, 0))
        // A negative result is EINTR or the like: report nothing, try again later.
        guard poll(&descriptors, 2, milliseconds) > 0, descriptors[0].revents != 0 else { return nil }
        guard redisBufferRead(context) == REDIS_OK else { throw breakConnection() }
        return try bufferedReply(context)
    }

    /// A reply already read into hiredis's buffer, if a whole one is there.
    private func bufferedReply(_ context: UnsafeMutablePointer<redisContext>) throws -> RESPValue? {
        var raw: UnsafeMutableRawPointer? = nil
        guard redisGetReplyFromReader(context, &raw) == REDIS_OK else { throw breakConnection() }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return try decodeOrBreak(raw)
    }

    // MARK: - Private

    private func usableContext() throws -> UnsafeMutablePointer<redisContext> {
        guard let context else {
            throw RWLockError.connection("the connection to \(endpoint) was closed after an earlier error; open a new one")
        }
        return context
    }

    private func logIn() throws {
        if let password = endpoint.password {
            var args: [[UInt8]] = [Array("AUTH".utf8)]
            if let username = endpoint.username { args.append(Array(username.utf8)) }
            args.append(Array(password.utf8))
            try expectStatus(args, name: "AUTH")
        }
        if endpoint.database != 0 {
            try expectStatus([Array("SELECT".utf8), Array(String(endpoint.database).utf8)], name: "SELECT")
        }
    }

    /// Runs a setup command that must answer `+OK`; anything else closes the
    /// connection, which is unusable without that setup.
    private func expectStatus(_ args: [[UInt8]], name: String) throws {
        switch try command(args) {
        case .status:
            return
        case .error(let message):
            close()
            throw RWLockError.server(message)
        case let other:
            close()
            throw RWLockError.protocolError("\(name) answered \(other) instead of a status reply")
        }
    }

    /// Frees the context after a connection-level failure and returns the
    /// error describing it, built from the context's err/errstr.
    private func breakConnection() -> RWLockError {
        guard let context else {
            return .connection("the connection to \(endpoint) was already closed")
        }
        let code = chiredis_err(context)
        let reason = code == 0 ? "unknown error" : String(cString: chiredis_errstr(context))
        close()
        switch code {
        case REDIS_ERR_PROTOCOL:
            return .protocolError("\(reason) (from \(endpoint))")
        case REDIS_ERR_IO where reason == "Resource temporarily unavailable":
            // hiredis reports a read/write timeout as EAGAIN.
            return .connection("no reply from \(endpoint) within the command timeout of \(commandTimeout)")
        default:
            return .connection("\(reason) (\(endpoint))")
        }
    }

    private func decodeOrBreak(_ raw: UnsafeMutableRawPointer) throws -> RESPValue {
        do {
            return try Self.decode(UnsafePointer(raw.assumingMemoryBound(to: redisReply.self)))
        } catch {
            // hiredis parsed something we do not understand; whatever follows
            // cannot be trusted to be in step either.
            close()
            throw error
        }
    }

    /// Copies a hiredis reply tree into a ``RESPValue``. Recursion depth is
    /// bounded: hiredis 0.14 rejects replies nested more than 7 deep.
    private static func decode(_ reply: UnsafePointer<redisReply>) throws -> RESPValue {
        let node = reply.pointee
        switch node.type {
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: bytes(of: node), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: bytes(of: node), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int64(node.integer))
        case REDIS_REPLY_STRING:
            return .bulk(bytes(of: node))
        case REDIS_REPLY_NIL:
            return .null
        case REDIS_REPLY_ARRAY:
            var items: [RESPValue] = []
            items.reserveCapacity(node.elements)
            for index in 0..<node.elements {
                guard let element = node.element?[index] else {
                    throw RWLockError.protocolError("array element \(index) is missing")
                }
                items.append(try decode(element))
            }
            return .array(items)
        default:
            throw RWLockError.protocolError("unknown hiredis reply type \(node.type)")
        }
    }

    private static func bytes(of node: redisReply) -> [UInt8] {
        guard let str = node.str, node.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: str, count: node.len))
    }

    /// Lays the arguments out as hiredis's argv/argvlen pair, valid only
    /// during `body`. One contiguous buffer keeps it to three allocations
    /// whatever the argument count; a trailing byte keeps it non-empty so its
    /// base address exists even when every argument is empty.
    private static func withArgv<Result>(
        _ args: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) throws -> Result {
        guard !args.isEmpty, let argc = Int32(exactly: args.count) else {
            throw RWLockError.invalidConfiguration("a Redis command needs 1 to \(Int32.max) arguments, got \(args.count)")
        }
        var flat: [UInt8] = []
        flat.reserveCapacity(args.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        offsets.reserveCapacity(args.count)
        for arg in args {
            offsets.append(flat.count)
            flat.append(contentsOf: arg)
        }
        flat.append(0)
        let lengths = args.map(\.count)
        return flat.withUnsafeBufferPointer { bytes in
            // UInt8 and CChar are signed/unsigned variants, which may alias.
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(argc, argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    /// A `struct timeval` from a positive `Duration`, rounded to microseconds
    /// (at least 1 µs, since hiredis treats zero as "no timeout").
    private static func makeTimeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        var microseconds = Int(attoseconds / 1_000_000_000_000)
        if seconds == 0 && microseconds == 0 { microseconds = 1 }
        return chiredis_timeval(Int(seconds), microseconds)
    }
}

// A connection is used by one thread at a time; forbid sending one across
// isolation domains by accident.
@available(*, unavailable)
extension HiredisConnection: Sendable {}
