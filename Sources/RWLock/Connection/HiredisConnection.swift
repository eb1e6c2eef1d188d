import CHiredis

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One blocking connection to Redis: hiredis formats the commands and
/// decodes the replies, ``Transport`` moves the bytes (TCP, a unix socket,
/// or TLS).
///
/// This is the only file that calls hiredis or touches its pointers: every
/// other part of RWLock sees ``RESPValue``s and ``RWLockError``s.
///
/// Not thread-safe and deliberately not `Sendable`: a connection belongs to
/// one thread at a time (``RWLockClient`` gives each its own worker thread).
/// Every call blocks that thread for up to the command timeout, so never use
/// one from Swift's cooperative thread pool (an `async` function) except in
/// tests.
///
/// A command's whole exchange, the write and every read of its reply, has
/// one deadline: the command timeout from when it was sent. When a call
/// fails at the connection level (I/O error, timeout, EOF, undecodable
/// reply) the connection is *broken*: it is closed at once, ``isBroken``
/// becomes true and every later call throws. The owner discards it and
/// opens a new one: a half-sent command must never be silently retried on
/// a lock.
///
/// Plain sockets are written with MSG_NOSIGNAL, but OpenSSL writes TLS with
/// write(2), which raises SIGPIPE on a socket the server closed: SIGPIPE
/// must be ignored or blocked on the calling thread. ``RWLockClient``'s
/// worker threads block it; a direct user (a test, a tool) must do one or
/// the other.
final class HiredisConnection {
    /// The server this connection talks to.
    let endpoint: RedisEndpoint
    /// How long one command may wait for its reply before the connection is
    /// broken. Blocking commands (BLPOP...) must stay below it.
    let commandTimeout: Duration

    /// The byte stream; nil once the connection is broken or closed.
    private var transport: Transport?
    /// hiredis's reply reader, holding bytes read but not yet decoded.
    private let reader: UnsafeMutablePointer<redisReader>

    /// The server's INFO as read for ``ServerRequirements``, once per
    /// connection (a restart breaks the connection, so it cannot go stale);
    /// nil until a command first needs it.
    var serverProfile: ServerProfile?

    /// Whether a reply has come back on this connection yet: a server that
    /// drops a connection before its first reply says something about the
    /// connection's setup (TLS, a client certificate), not the command.
    private var answered = false

    /// True once a call failed at the connection level or ``close()`` ran.
    var isBroken: Bool { transport == nil }

    /// Connects (and, for TLS, completes the handshake) within
    /// `connectTimeout`, then sends `AUTH` (when the endpoint has a
    /// password) and `SELECT` (when its database is not 0).
    ///
    /// - Throws: ``RWLockError`` — `.invalidConfiguration` for a non-positive
    ///   timeout or unusable TLS files, `.connection` when the server cannot
    ///   be reached, `.tls` when the TLS handshake or the server's
    ///   certificate fails (the message says which check), `.server` when
    ///   Redis rejects `AUTH` or `SELECT` (for example `WRONGPASS ...`).
    init(endpoint: RedisEndpoint, connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(2)) throws {
        for (name, value) in [("connect timeout", connectTimeout), ("command timeout", commandTimeout)] {
            guard value > .zero else {
                throw RWLockError.invalidConfiguration("the \(name) must be positive, got \(value)")
            }
        }
        guard let reader = redisReaderCreate() else {
            throw RWLockError.connection("cannot connect to \(endpoint): hiredis could not allocate a reader")
        }
        self.endpoint = endpoint
        self.commandTimeout = commandTimeout
        self.reader = reader
        do {
            transport = try Transport(endpoint: endpoint, deadline: Transport.deadline(after: connectTimeout))
        } catch {
            throw Self.connectError(error, endpoint: endpoint)
        }
        try logIn()
    }

    deinit {
        transport?.close()
        redisReaderFree(reader)
    }

    /// Closes the connection now instead of at deinit. Later calls throw.
    func close() {
        transport?.close()
        transport = nil
    }

    /// Whether the server has closed this idle connection (it restarted, a
    /// cluster node was killed, CLIENT KILL, idle timeout): checked without
    /// waiting before a command is sent, so the command goes to a fresh
    /// connection instead of failing with an outcome the caller cannot
    /// know. A finished connection is then closed.
    func isClosedByPeer() -> Bool {
        guard let transport else { return true }
        guard transport.problemWhileIdle() != nil else { return false }
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
    ///   closed the connection), `.tls` or `.protocolError`; each breaks the
    ///   connection.
    func command(_ args: [[UInt8]]) throws -> RESPValue {
        try pipeline([args])[0]
    }

    /// Sends all commands in one write, then reads one reply per command, in
    /// order. Error replies are elements of the result, as with ``command(_:)``.
    ///
    /// - Throws: as ``command(_:)``; the replies already read are lost and
    ///   the connection is broken, since the stream is no longer in step.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RESPValue] {
        let deadline = Transport.deadline(after: commandTimeout)
        try send(commands, deadline: deadline)
        var replies: [RESPValue] = []
        replies.reserveCapacity(commands.count)
        while replies.count < commands.count {
            if let reply = try decodedReply() {
                replies.append(reply)
            } else {
                try receive(deadline: deadline)
            }
        }
        answered = true
        return replies
    }

    /// Queues `commands` inside MULTI, then discards the transaction: Redis
    /// checks each command against the user's ACL when it queues it
    /// (answering NOPERM) and runs none of them. Returns MULTI's reply and
    /// then each command's queuing reply (`QUEUED` or an error); only
    /// MULTI's when MULTI was refused, since nothing may be sent after a
    /// refused MULTI (it would run). A connection whose DISCARD was refused
    /// is closed, which ends the transaction on the server.
    ///
    /// - Throws: as ``command(_:)``.
    func queueAndDiscard(_ commands: [[[UInt8]]]) throws -> [RESPValue] {
        let multi = try command([Array("MULTI".utf8)])
        guard multi == .status("OK") else { return [multi] }
        let replies = try pipeline(commands + [[Array("DISCARD".utf8)]])
        if replies.last != .status("OK") { close() }
        return [multi] + replies.dropLast()
    }

    // MARK: - Pub/sub (the subscriber connection)

    /// Writes a command without reading its reply: for SUBSCRIBE and
    /// UNSUBSCRIBE, whose confirmations arrive among the pushed messages
    /// that ``nextPushedReply(waitingUpTo:orUntilReadable:)`` reads.
    ///
    /// - Throws: as ``command(_:)``; the connection is then broken.
    func sendWithoutReply(_ args: [[UInt8]]) throws {
        try send([args], deadline: Transport.deadline(after: commandTimeout))
    }

    /// The next reply the server pushes on a subscribed connection (a
    /// message or a subscription confirmation), waiting at most `timeout` or
    /// until `wakeDescriptor` becomes readable; nil if neither brought one.
    ///
    /// Unlike ``command(_:)``, running out of time does not break the
    /// connection: the wait is poll(2) on the socket, and the transport
    /// reads only once data is there.
    ///
    /// - Throws: ``RWLockError`` `.connection` (EOF, I/O error), `.tls` or
    ///   `.protocolError`; each breaks the connection.
    func nextPushedReply(waitingUpTo timeout: Duration, orUntilReadable wakeDescriptor: Int32) throws -> RESPValue? {
        let transport = try usableTransport()
        if let buffered = try decodedReply() { return buffered }
        if !transport.hasBufferedBytes {
            var descriptors = [
                pollfd(fd: transport.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let milliseconds = Int32(clamping: max(timeout.wholeMilliseconds, 0))
            // A negative result is EINTR or the like: report nothing, try again later.
            guard poll(&descriptors, 2, milliseconds) > 0, descriptors[0].revents != 0 else { return nil }
        }
        // Readable, but perhaps only TLS records and no reply yet: a look
        // without waiting that finds nothing is not an error.
        try receive(deadline: 0)
        return try decodedReply()
    }

    // MARK: - Private

    private func usableTransport() throws -> Transport {
        guard let transport else {
            throw RWLockError.connection("the connection to \(endpoint) was closed after an earlier error; open a new one")
        }
        return transport
    }

    /// Formats `commands` with hiredis and writes them in one go.
    private func send(_ commands: [[[UInt8]]], deadline: Int64) throws {
        let transport = try usableTransport()
        var bytes: [UInt8] = []
        for args in commands {
            // redisFormatCommandArgv returns an int in hiredis 0.14 (Debian
            // 12) and a long long from 1.0 on (Debian 13, Ubuntu 24.04).
            let formatted = try Self.withArgv(args) { argc, argv, argvlen -> (UnsafeMutablePointer<CChar>?, Int) in
                var target: UnsafeMutablePointer<CChar>? = nil
                let length = redisFormatCommandArgv(&target, argc, argv, argvlen)
                return (target, Int(length))
            }
            guard let command = formatted.0, formatted.1 >= 0 else {
                close()
                throw RWLockError.connection("hiredis could not format a command for \(endpoint) (out of memory)")
            }
            defer { redisFreeCommand(command) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: command, count: Int(formatted.1)))
        }
        do {
            try transport.write(bytes, deadline: deadline)
        } catch {
            throw breakConnection(error)
        }
    }

    /// Reads what the server sent into the reader. A `deadline` of 0 looks
    /// once without waiting and is no error when nothing was there.
    private func receive(deadline: Int64) throws {
        let transport = try usableTransport()
        var bytes: [UInt8] = []
        do {
            try transport.read(into: &bytes, deadline: deadline)
        } catch let failure where failure.reason == .timedOut && deadline == 0 {
            return
        } catch {
            throw breakConnection(error)
        }
        let fed = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        guard fed == REDIS_OK else { throw breakOnReaderError() }
    }

    /// The next whole reply in the reader, if one is there.
    private func decodedReply() throws -> RESPValue? {
        var raw: UnsafeMutableRawPointer? = nil
        guard redisReaderGetReply(reader, &raw) == REDIS_OK else { throw breakOnReaderError() }
        guard let raw else { return nil }
        defer { freeReplyObject(raw) }
        return try decodeOrBreak(raw)
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

    /// Closes the connection after a failure of its stream mid-command and
    /// says what happened.
    private func breakConnection(_ failure: Transport.Failure) -> RWLockError {
        close()
        switch failure.reason {
        case .timedOut:
            return .connection("no reply from \(endpoint) within the command timeout of \(commandTimeout)")
        case .tls, .verification:
            let hint = failure.message.contains("certificate required")
                ? ": the server requires a client certificate (tls-auth-clients yes); give one (--cert and --key)" : ""
            return .tls("\(endpoint): \(failure.message)\(hint)")
        case .configuration:
            return .invalidConfiguration("the TLS settings for \(endpoint) are unusable: \(failure.message)")
        case .closedByServer, .system:
            // Dropped before the connection's first reply: its setup, not the
            // command, is the likely cause.
            if !answered, let tls = endpoint.tls, tls.certificateFile == nil {
                return .tls("\(endpoint) dropped the connection right after the TLS handshake (\(failure.message)), as a "
                    + "server that requires a client certificate (tls-auth-clients yes) does: give one (--cert and --key)")
            }
            if !answered, endpoint.tls == nil, case .tcp = endpoint.address {
                return .connection("\(failure.message) (\(endpoint)) before any reply: if this port speaks TLS, use rediss://")
            }
            return .connection("\(failure.message) (\(endpoint))")
        }
    }

    /// The reader could not decode what the server sent: nothing after it
    /// can be trusted to be in step.
    private func breakOnReaderError() -> RWLockError {
        let reason = String(cString: chiredis_reader_error(reader))
        close()
        return .protocolError("\(reason) (from \(endpoint))")
    }

    /// Why a connection could not be opened, with the endpoint and, for
    /// TLS, which check failed and what to do.
    private static func connectError(_ failure: Transport.Failure, endpoint: RedisEndpoint) -> RWLockError {
        switch failure.reason {
        case .verification:
            let name = endpoint.tls?.serverName ?? endpoint.hostDescription
            return .tls("cannot connect to \(endpoint): the server's TLS certificate failed verification (\(failure.message)); "
                + (failure.message.contains("mismatch")
                    ? "it does not name \(name): connect by a name it carries, or give that name (--sni)"
                    : "give the CA that signed it (--cacert or --cacertdir)"))
        case .tls:
            return .tls("cannot connect to \(endpoint): \(failure.message)")
        case .configuration:
            return .invalidConfiguration("cannot connect to \(endpoint): \(failure.message)")
        case .timedOut where failure.message.contains("TLS"):
            return .tls("cannot connect to \(endpoint): \(failure.message)")
        case .timedOut, .closedByServer, .system:
            return .connection("cannot connect to \(endpoint): \(failure.message)")
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
}

// A connection is used by one thread at a time; forbid sending one across
// isolation domains by accident.
@available(*, unavailable)
extension HiredisConnection: Sendable {}
