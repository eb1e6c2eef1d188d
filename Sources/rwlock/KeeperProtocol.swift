#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `rwlock` and its keeper (``Keeper``) say to each other, and the
/// clock they say it on.
///
/// Two pipes, one each way. rwlock writes ``Order``s: each confirmed
/// validity deadline, and "stand down" once the hold is over. The keeper
/// writes one ``Report`` byte each time it signals COMMAND's group, so that
/// rwlock can tell the lease's end from COMMAND's own. Every write is one
/// record of at most 9 bytes, which a pipe delivers whole (POSIX: writes of
/// up to PIPE_BUF bytes are atomic).
enum KeeperProtocol {
    /// argv[1] of a keeper: `rwlock __keeper LOCK GRACE_NS UNTIL_NS`. Not an
    /// option users type: a keeper reads orders from descriptor 3.
    static let argument = "__keeper"
    /// The keeper reads orders here and writes reports there.
    static let ordersDescriptor: Int32 = 3
    static let reportsDescriptor: Int32 = 4

    /// rwlock → keeper.
    enum Order: Equatable {
        /// The lease is valid until this instant, in nanoseconds of
        /// ``KeeperClock``.
        case validUntil(Int64)
        /// The hold is over and COMMAND's group is gone: exit without
        /// signalling anything.
        case standDown

        static let size = 9

        var bytes: [UInt8] {
            switch self {
            case .validUntil(let nanoseconds):
                [UInt8(ascii: "V")] + withUnsafeBytes(of: nanoseconds.littleEndian, Array.init)
            case .standDown:
                [UInt8(ascii: "S")] + Array(repeating: 0, count: 8)
            }
        }

        /// Decodes whole records from the front of `buffer`, leaving a
        /// partial one there. Nil for a record no rwlock writes.
        static func decode(_ buffer: inout [UInt8]) -> [Order]? {
            var orders: [Order] = []
            while buffer.count >= size {
                let value = buffer[1..<size].reversed().reduce(Int64(0)) { $0 << 8 | Int64($1) }
                switch buffer[0] {
                case UInt8(ascii: "V"): orders.append(.validUntil(value))
                case UInt8(ascii: "S"): orders.append(.standDown)
                default: return nil
                }
                buffer.removeFirst(size)
            }
            return orders
        }
    }

    /// keeper → rwlock: what it sent COMMAND's group.
    enum Report: UInt8 {
        /// SIGTERM: the lease's validity ends within the grace (or rwlock is
        /// gone).
        case terminated = 0x54  // "T"
        /// SIGKILL: the validity ended. The keeper dies with the group.
        case killed = 0x4B  // "K"
    }
}

/// The clock both sides measure deadlines on: one every process of the
/// machine shares, so a deadline crosses the pipe as an absolute instant and
/// no delay in delivering it can stretch it. CLOCK_BOOTTIME on Linux, which
/// keeps counting while the machine sleeps, as the server's leases do;
/// Darwin's CLOCK_MONOTONIC counts sleep too.
enum KeeperClock {
    static func now() -> Int64 {
        var time = timespec()
        #if os(Linux)
        clock_gettime(CLOCK_BOOTTIME, &time)
        #else
        clock_gettime(CLOCK_MONOTONIC, &time)
        #endif
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    /// `instant` of this process's `ContinuousClock`, on this clock. This
    /// clock is read first, so the time between the two reads makes the
    /// result early, never late.
    static func nanoseconds(of instant: ContinuousClock.Instant) -> Int64 {
        let now = now()
        let (seconds, attoseconds) = (instant - ContinuousClock.now).components
        return now + seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
