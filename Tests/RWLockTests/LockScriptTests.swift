import Foundation
import Testing

@testable import RWLock

/// The package's lua/ directory, found from this file's path.
private let luaDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appending(path: "lua")

private let liveRedis = LiveEnvironment.hasServer

@Suite("Scripts embedded from lua/")
struct EmbeddedScriptTests {
    @Test func everyScriptInLuaIsEmbeddedByteForByte() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: luaDirectory.path)
            .filter { $0.hasSuffix(".lua") }.sorted()
        #expect(LockScript.all.map { "\($0.name).lua" } == files)
        for script in LockScript.all {
            let onDisk = Array(try Data(contentsOf: luaDirectory.appending(path: "\(script.name).lua")))
            #expect(script.source == onDisk, "\(script.name).lua differs from the embedded copy")
            #expect(script.sha1.count == 40 && script.sha1.allSatisfy(\.isHexDigit))
        }
    }

    @Test func theRuntimeUsesEachOperationsOwnScript() {
        let names = [LockScript.acquireRead, .acquireWrite, .release, .renew, .downgrade, .withdraw, .inspect].map(\.name)
        #expect(names == ["acquire_read", "acquire_write", "release", "renew", "downgrade", "withdraw", "inspect"])
    }
}

@Suite("Scripts on a live server", .enabled(if: liveRedis))
struct LiveScriptTests {
    @Test func scriptLoadAgreesWithTheEmbeddedSHA1() async throws {
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        for script in LockScript.all {
            let onDisk = Array(try Data(contentsOf: luaDirectory.appending(path: "\(script.name).lua")))
            let loaded = try await client.send([Array("SCRIPT".utf8), Array("LOAD".utf8), onDisk])
            #expect(loaded.string == script.sha1, "\(script.name).lua")
        }
    }

    @Test func noscriptIsLoadedAndRetried() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let lock = try RWLock(name: "scripts-\(UUID().uuidString)", client: client)
        _ = try await client.send(["SCRIPT", "FLUSH"])
        let inspected = try await client.run(.inspect, keys: lock.keys, arguments: [])
        guard case .array(let fields) = inspected else { Issue.record("inspect answered \(inspected)"); return }
        #expect(fields.count == 6)
        // Flushed between every step of a lease's life.
        let lease = try await lock.acquireWrite(timeout: .seconds(2))
        _ = try await client.send(["SCRIPT", "FLUSH"])
        try await lease.renew()
        _ = try await client.send(["SCRIPT", "FLUSH"])
        try await lease.downgrade()
        _ = try await client.send(["SCRIPT", "FLUSH"])
        try await lease.release()
        // (No SCRIPT EXISTS check here: another suite flushes the server's
        // script cache concurrently, on purpose.)
        #expect(try await lock.withReadLockIfAvailable { true } == true, "the lock is free again after the release")
    }
}

/// The acquire scripts' replies as the runtime decodes them: the shapes the
/// headers document, and nothing else.
struct AcquireReplyTests {
    private func array(_ fields: [Int64]) -> RESPValue { .array(fields.map(RESPValue.integer)) }

    @Test func documentedShapesAreRead() throws {
        #expect(try ScriptReply.acquisition(array([1, 30_000, 1_796_202_732_036_951]), from: .acquireWrite)
            == .init(granted: true, milliseconds: 30_000, third: 1_796_202_732_036_951, arrival: nil))
        #expect(try ScriptReply.acquisition(array([0, 250, 2, 1_796_202_732_036_000]), from: .acquireWrite)
            == .init(granted: false, milliseconds: 250, third: 2, arrival: 1_796_202_732_036_000))
        #expect(try ScriptReply.acquisition(array([0, 250, 0]), from: .acquireRead)
            == .init(granted: false, milliseconds: 250, third: 0, arrival: nil))
    }

    @Test(arguments: [
        (LockScript.acquireWrite, [0, 250, 2] as [Int64]),  // a writer's refusal without its arrival
        (.acquireWrite, [1, 30_000, 7, 9]),                 // a grant with a fourth field
        (.acquireRead, [0, 250, 0, 9]),                     // readers have no arrival
        (.acquireRead, [1, 30_000]),
    ])
    func otherShapesAreProtocolErrors(script: LockScript, fields: [Int64]) {
        let error = #expect(throws: RWLockError.self) { try ScriptReply.acquisition(array(fields), from: script) }
        #expect(error?.kind == .protocolError)
    }

    @Test func aFieldThatIsNotAnIntegerIsAProtocolError() {
        let reply = RESPValue.array([.integer(0), .integer(250), .bulk(Array("2".utf8)), .integer(9)])
        let error = #expect(throws: RWLockError.self) { try ScriptReply.acquisition(reply, from: .acquireWrite) }
        #expect(error?.kind == .protocolError)
    }
}

/// acquire_read beside other readers learns of a retry from its `ZADD NX` and
/// moves the readers set's expiry only later (`PEXPIREAT … GT`), with `PTTL`
/// catching a set the grant has just created: checked on real Redis, whose
/// replies to those commands the mock only imitates.
@Suite("acquire_read's readers set on a live server", .enabled(if: liveRedis))
struct LiveReadersSetTests {
    private static func words(_ texts: [String]) -> [[UInt8]] { texts.map { Array($0.utf8) } }

    /// An acquire script's reply, as the runtime reads it (a wrong shape throws).
    private static func acquire(_ lock: RWLock, _ script: LockScript, _ arguments: [String]) async throws -> [Int64] {
        let answer = try ScriptReply.acquisition(
            try await lock.client.run(script, keys: lock.keys, arguments: words(arguments)), from: script)
        return [answer.granted ? 1 : 0, answer.milliseconds, answer.third] + (answer.arrival.map { [$0] } ?? [])
    }

    private static func acquireRead(_ lock: RWLock, _ token: String, leaseMs: Int, mode: String = "prefer-writers") async throws -> [Int64] {
        try await acquire(lock, .acquireRead, [token, "\(leaseMs)", mode, "0"])
    }

    private static func integer(_ client: RWLockClient, _ words: [[UInt8]]) async throws -> Int64 {
        guard case .integer(let value) = try await client.send(words) else { return Int64.min }
        return value
    }

    @Test func aRetryBesideReadersIsReportedAndTheSetExpiresWithItsLatestReader() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let lock = try RWLock(name: "readers-set-\(UUID().uuidString)", client: client)
        let readers = lock.keys[1]
        func pttl() async throws -> Int64 { try await Self.integer(client, [Array("PTTL".utf8), readers]) }

        #expect(try await Self.acquireRead(lock, "a", leaseMs: 60_000) == [1, 60_000, 0])
        // A shorter reader beside it: granted, and the set keeps a's later expiry.
        #expect(try await Self.acquireRead(lock, "b", leaseMs: 20_000) == [1, 20_000, 0])
        #expect(try await pttl() > 50_000)
        // b's acquire again (its reply was lost, say): reported with b's own
        // lease left, nothing added, b's deadline and the set's expiry unmoved.
        let scoreBefore = try await client.send([Array("ZSCORE".utf8), readers, Array("b".utf8)])
        let retried = try await Self.acquireRead(lock, "b", leaseMs: 90_000)
        #expect(retried[0] == 1 && retried[1] <= 20_000 && retried[1] > 10_000, "\(retried)")
        #expect(try await client.send([Array("ZSCORE".utf8), readers, Array("b".utf8)]) == scoreBefore)
        #expect(try await Self.integer(client, [Array("ZCARD".utf8), readers]) == 2)
        #expect(try await pttl() <= 60_000)
        // A longer reader moves the expiry later.
        #expect(try await Self.acquireRead(lock, "c", leaseMs: 120_000) == [1, 120_000, 0])
        #expect(try await pttl() > 110_000)
        _ = try await client.send(Self.words(["DEL"]) + lock.keys.dropLast())
    }

    @Test func aReadersSetCreatedBesideAWaitingWriterGetsAnExpiry() async throws {
        let client = try RWLockClient(url: nil, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let lock = try RWLock(name: "readers-set-\(UUID().uuidString)", client: client)
        let readers = lock.keys[1]
        #expect(try await Self.acquireRead(lock, "r0", leaseMs: 60_000) == [1, 60_000, 0])
        // A writer refused behind r0 leaves its intent and queue entry.
        let refused = try await Self.acquire(lock, .acquireWrite, ["w", "60000", "60000", "0"])
        #expect(refused.first == 0, "\(refused)")
        #expect(try await client.run(.release, keys: lock.keys, arguments: Self.words(["r0"])) == .integer(1))
        #expect(try await Self.integer(client, [Array("EXISTS".utf8), readers]) == 0, "r0's release emptied the set")
        // Preferring readers, a reader is granted beside the intent: the lock is
        // not fresh, so its ZADD creates the set on the path that uses GT.
        #expect(try await Self.acquireRead(lock, "r1", leaseMs: 30_000, mode: "prefer-readers") == [1, 30_000, 0])
        let left = try await Self.integer(client, [Array("PTTL".utf8), readers])
        #expect(left > 20_000 && left <= 30_000, "the new readers set expires with r1's lease, PTTL \(left)")
        _ = try await client.send(Self.words(["DEL"]) + lock.keys.dropLast())
    }
}
