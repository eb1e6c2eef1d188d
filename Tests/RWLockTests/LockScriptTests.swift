import Foundation
import Testing

@testable import RWLock

/// The package's lua/ directory, found from this file's path.
private let luaDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appending(path: "lua")

private let liveRedis = ProcessInfo.processInfo.environment["REDIS_URL"] != nil

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
        let client = try RedisClient(url: nil)
        defer { client.shutdown() }
        for script in LockScript.all {
            let onDisk = Array(try Data(contentsOf: luaDirectory.appending(path: "\(script.name).lua")))
            let loaded = try await client.send([Array("SCRIPT".utf8), Array("LOAD".utf8), onDisk])
            #expect(loaded.string == script.sha1, "\(script.name).lua")
        }
    }

    @Test func noscriptIsLoadedAndRetried() async throws {
        let client = try RedisClient(url: nil, maxConnections: 1)
        defer { client.shutdown() }
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
