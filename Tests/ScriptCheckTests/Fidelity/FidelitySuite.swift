import Foundation
import Testing
@testable import RWLock
@testable import ScriptCheck

/// The differential fidelity suite: everything ScriptCheck claims rests on
/// its mock behaving exactly like Redis 7.0's scripting engine, so random
/// commands and scripts run on both and every reply is compared.
///
/// Live only (needs `REDIS_URL`). It works in database 9 (`FidelityServer.database`),
/// which it empties with FLUSHDB, never FLUSHALL, so suites running in
/// parallel against other databases of the same server are not disturbed.
/// Tests inside are serialized because they share that database.
///
/// `FIDELITY_SEED=<n or 0x..>` replays a run; otherwise each run draws a
/// fresh seed and prints it.
@Suite(.serialized, .enabled(if: LiveEnvironment.hasServer))
struct Fidelity {
    /// The run's master seed; each batch derives its own from it.
    static let masterSeed: UInt64 = {
        if let text = ProcessInfo.processInfo.environment["FIDELITY_SEED"], let seed = UInt64(seedText: text) {
            return seed
        }
        return UInt64.random(in: 0...UInt64.max)
    }()

    /// `FIDELITY_SCALE=N` multiplies the number of sequences per batch, for
    /// soak runs; the default volume is what every `swift test` runs.
    static let scale: Int = {
        ProcessInfo.processInfo.environment["FIDELITY_SCALE"].flatMap { Int($0) }.map { max(1, $0) } ?? 1
    }()
}

/// Ignore SIGPIPE: these tests drive connections directly.
private let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

enum FidelityServer {
    /// The database the fidelity suite owns on the shared server.
    static let database = 9

    static func endpoint() throws -> RedisEndpoint {
        var endpoint = try RedisEndpoint.fromEnvironment()
        endpoint.database = database
        return endpoint
    }

    static func connect() throws -> HiredisConnection {
        _ = ignoreSIGPIPE
        return try HiredisConnection(endpoint: endpoint(), commandTimeout: .seconds(10))
    }
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}

/// Server replies in the mock's vocabulary. hiredis 0.14 cannot tell `*-1`
/// from `$-1`, so nil arrays compare as nil bulks on both sides.
func mockReply(_ value: RESPValue) -> RedisReply {
    switch value {
    case .status(let s): return .status(s)
    case .error(let s): return .error(s)
    case .integer(let n): return .integer(n)
    case .bulk(let b): return .bulk(b)
    case .null, .nullArray: return .null
    case .array(let items): return .array(items.map(mockReply))
    }
}

func normalized(_ reply: RedisReply) -> RedisReply {
    switch reply {
    case .nullArray: return .null
    case .array(let items): return .array(items.map(normalized))
    default: return reply
    }
}

/// A reply printed for humans on one line, every byte visible.
func describe(_ reply: RedisReply) -> String {
    func quoted(_ b: [UInt8]) -> String { String(decoding: RedisCliFormat.quoted(b), as: UTF8.self) }
    switch reply {
    case .status(let s): return "(status) " + quoted(Array(s.utf8))
    case .error(let s): return "(error) " + quoted(Array(s.utf8))
    case .integer(let n): return "(integer) \(n)"
    case .bulk(let b): return quoted(b)
    case .null: return "(nil)"
    case .nullArray: return "(nil array)"
    case .array(let items): return "[" + items.map(describe).joined(separator: ", ") + "]"
    }
}

/// Words shown as redis-cli would accept them.
func describe(words: [String]) -> String {
    words.map { String(decoding: RedisCliFormat.quoted(Array($0.utf8)), as: UTF8.self) }.joined(separator: " ")
}
