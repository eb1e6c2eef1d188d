/// The fencing token of a write lease: strictly greater than every fencing
/// token granted before it for the same lock, across expiries, crashes and
/// script-cache flushes (S6).
///
/// Pass it to the storage the lock protects and have that storage reject a
/// write carrying a smaller fence than one it has seen: that catches a writer
/// paused past its lease, which no lease can (R1).
///
/// ```swift
/// try await lock.withWriteLock { fence in
///     try await db.update(row, ifFenceAbove: fence.value)
/// }
/// ```
public struct Fence: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The token's value: at least the server time of the grant in
    /// microseconds since 1970.
    public let value: UInt64

    /// A fence with the given value, for storing and comparing.
    public init(_ value: UInt64) { self.value = value }

    /// Orders fences by value: the later grant has the greater fence.
    public static func < (lhs: Fence, rhs: Fence) -> Bool { lhs.value < rhs.value }

    /// The value in decimal.
    public var description: String { String(value) }
}
