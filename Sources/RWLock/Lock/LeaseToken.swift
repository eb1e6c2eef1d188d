import Synchronization

/// Lease tokens: a random 128-bit id drawn once per process, and a counter.
///
/// A token must differ from every other lease's token, in this process and
/// in every other, or a stale holder could release or renew a newer lease
/// (S4). `UUID()` gives that too, but Foundation reads `/dev/urandom` for
/// each one: an open, a read and a close on every acquire, about as many
/// system calls as the acquire's own round trip makes. Drawing the random
/// part once and counting from there costs none.
///
/// Two processes collide only if they draw the same 128 bits (the kernel's
/// generator, through `SystemRandomNumberGenerator`); a restarted process
/// draws afresh, so it cannot repeat its earlier tokens either. A process
/// that forked without exec would share the id and the counter's value with
/// its parent; nothing in this package forks without exec.
enum LeaseToken {
    private static let processID: String = {
        var generator = SystemRandomNumberGenerator()
        return [generator.next(), generator.next()].map { (half: UInt64) in
            let digits = String(half, radix: 16, uppercase: true)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }()

    private static let issued = Atomic<UInt64>(0)

    /// A token no other lease has had: `ID-N`, where ID is this process's
    /// 32 hex digits and N counts up in hex, at most 49 bytes.
    static func next() -> String {
        let number = issued.add(1, ordering: .relaxed).newValue
        return processID + "-" + String(number, radix: 16, uppercase: true)
    }
}
