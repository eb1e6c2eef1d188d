/// Decoding of the scripts' documented reply shapes (see each script's
/// header). Anything else is a ``RWLockError/protocolError(_:)`` naming the
/// script, never a guess.
enum ScriptReply {
    /// `int` (release, withdraw).
    static func integer(_ reply: RESPValue, from script: LockScript) throws -> Int64 {
        guard case .integer(let value) = reply else { throw unexpected(reply, script, "an integer") }
        return value
    }

    /// `{int, int}` (renew, downgrade).
    static func pair(_ reply: RESPValue, from script: LockScript) throws -> (Int64, Int64) {
        guard case .array(let items) = reply, items.count == 2,
            case .integer(let first) = items[0], case .integer(let second) = items[1]
        else { throw unexpected(reply, script, "{int, int}") }
        return (first, second)
    }

    /// What acquire_read or acquire_write answered.
    struct Acquisition: Equatable {
        /// Whether the lease was granted (the reply's first field is 1).
        var granted: Bool
        /// Granted: how long the lease lasts; refused: when to look again (ms).
        var milliseconds: Int64
        /// A write grant's fence; a refused writer's place in the queue
        /// (1 is next); 0 for a reader.
        var third: Int64
        /// A refused writer's arrival in the queue (server µs): the order
        /// the queue serves writers in. Nil for grants and readers.
        var arrival: Int64?
    }

    /// `{int, int, int}` (acquire_read; acquire_write's grant) or
    /// `{0, int, int, int}` (acquire_write's refusal, which adds the arrival).
    static func acquisition(_ reply: RESPValue, from script: LockScript) throws -> Acquisition {
        let shape = script == .acquireWrite ? "{int, int, int} or {0, int, int, int}" : "{int, int, int}"
        guard case .array(let items) = reply, items.count == 3 || items.count == 4 else {
            throw unexpected(reply, script, shape)
        }
        func field(_ index: Int) throws -> Int64 {
            guard case .integer(let value) = items[index] else { throw unexpected(reply, script, shape) }
            return value
        }
        let first = try field(0)
        let refusedWriter = script == .acquireWrite && first == 0
        guard items.count == (refusedWriter ? 4 : 3) else { throw unexpected(reply, script, shape) }
        return Acquisition(granted: first == 1, milliseconds: try field(1), third: try field(2),
                           arrival: refusedWriter ? try field(3) : nil)
    }

    private static func unexpected(_ reply: RESPValue, _ script: LockScript, _ shape: String) -> RWLockError {
        .protocolError("\(script.name).lua answered \(reply), not \(shape) as its header documents")
    }
}

extension Duration {
    /// The duration as a script's millisecond ARGV (decimal text).
    var millisecondArgument: [UInt8] { Array(String(wholeMilliseconds).utf8) }
}
