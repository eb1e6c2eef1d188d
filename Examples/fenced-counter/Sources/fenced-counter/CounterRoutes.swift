import Hummingbird
import Logging
import RWLock

/// The HTTP API: one lock per counter, its fence handed to the store.
///
/// - `POST /counters/{name}/increment`: 200 and the new value; 409 when the
///   database refused the write's fence; 503 when the lock was not granted
///   in time, Redis is unreachable or the service is shutting down.
/// - `GET /counters/{name}`: 200 and the value (0 for a new counter).
struct CounterRoutes: Sendable {
    let store: CounterStore
    let locks: CounterLocks
    /// How long a request waits for its counter's lock before answering 503.
    let lockTimeout: Duration

    func register(on router: Router<BasicRequestContext>) {
        router.post("/counters/{name}/increment") { _, context in
            try await increment(try locks.lock(for: context.parameters.require("name")))
        }
        router.get("/counters/{name}") { _, context in
            try await read(try locks.lock(for: context.parameters.require("name")))
        }
    }

    private func increment(_ lock: CounterLocks.Entry) async throws -> Response {
        // Set inside the body: if the lease is lost after the database took
        // the write, withWriteLock throws and drops the body's result, but the
        // increment happened (the fence admitted it) and must be answered 200.
        var written: Int64? = nil
        do {
            return try await lock.rwlock.withWriteLock(timeout: lockTimeout) { fence in
                guard let value = try await store.increment(lock.counter, fence: fence) else {
                    return .plainText("fence \(fence) refused: the counter holds a later writer's fence\n", status: .conflict)
                }
                written = value
                return .plainText("\(value)\n")
            }
        } catch let error as RWLockError {
            if let written { return .plainText("\(written)\n") }
            return try Self.unavailable(error)
        }
    }

    private func read(_ lock: CounterLocks.Entry) async throws -> Response {
        do {
            let value = try await lock.rwlock.withReadLock(timeout: lockTimeout) {
                try await store.value(of: lock.counter)
            }
            return .plainText("\(value)\n")
        } catch let error as RWLockError {
            return try Self.unavailable(error)
        }
    }

    /// 503 for what a client should retry (a lock not granted in time, a
    /// service draining, a lease lost before the write, Redis unreachable);
    /// rethrows the rest, which Hummingbird answers with 500.
    private static func unavailable(_ error: RWLockError) throws -> Response {
        switch error.kind {
        case .timedOut, .shutdown, .leaseLost, .connection: .plainText("\(error)\n", status: .serviceUnavailable)
        default: throw error
        }
    }
}

/// Makes each counter's lock. An `RWLock` is a small value without
/// connections, so one per request costs nothing on the network.
struct CounterLocks: Sendable {
    let client: RWLockClient
    let options: RWLock.Options
    let logger: Logger

    /// A counter's name and the lock that guards it.
    struct Entry {
        let counter: String
        let rwlock: RWLock
    }

    /// Counter names are 1 to 100 letters, digits, `-` or `_`: they become
    /// part of Redis keys and of the lock's name, which has rules of its own.
    func lock(for counter: String) throws -> Entry {
        guard (1...100).contains(counter.count),
            counter.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") })
        else {
            throw HTTPError(.badRequest, message: "a counter name is 1 to 100 ASCII letters, digits, '-' or '_'")
        }
        return Entry(counter: counter, rwlock: try RWLock(name: "counter-\(counter)", client: client, options: options, logger: logger))
    }
}

extension Response {
    /// A `text/plain` response: the API answers numbers, and errors in words.
    static func plainText(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
