import Testing

@testable import RWLock

/// Tokens tell leases apart (S4): no two may be equal, however many tasks
/// draw them at once, and every one fits the scripts' 200-byte limit.
@Suite struct LeaseTokenTests {
    @Test func tokensDrawnConcurrentlyAreAllDistinct() async {
        let perTask = 2_000, tasks = 8
        let tokens = await withTaskGroup(of: [String].self) { group in
            for _ in 0..<tasks {
                group.addTask { (0..<perTask).map { _ in LeaseToken.next() } }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(tokens.count == perTask * tasks)
        #expect(Set(tokens).count == tokens.count)
    }

    @Test func aTokenIsTheProcessIDAndACounter() throws {
        let first = LeaseToken.next(), second = LeaseToken.next()
        let a = first.split(separator: "-"), b = second.split(separator: "-")
        #expect(a.count == 2 && b.count == 2)
        // One random id per process, 32 hex digits; the counter moves on.
        #expect(a[0] == b[0])
        #expect(a[0].count == 32 && a[0].allSatisfy(\.isHexDigit))
        let n = try #require(UInt64(a[1], radix: 16)), m = try #require(UInt64(b[1], radix: 16))
        #expect(m > n)
        // The longest token prefix (100 bytes) and ':' still leave room.
        #expect(101 + LeaseToken.next().utf8.count <= 200)
    }
}
