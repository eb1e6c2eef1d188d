import Foundation
import Logging
import Synchronization
import Testing

@testable import RWLock

/// Nothing listens on port 1: any traffic would fail with `.connection`, so
/// `.invalidConfiguration` proves the check happened before sending.
private func unreachableClient() throws -> RWLockClient {
    try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1)), configuration: .init(maxConnections: 1))
}

@Suite("Lock configuration is checked before any traffic")
struct LockConfigurationTests {
    @Test(
        "bad client settings throw, naming the setting",
        arguments: [
            (RWLockClient.Configuration(maxConnections: 0), "maxConnections"),
            (RWLockClient.Configuration(connectTimeout: .zero), "connectTimeout"),
            (RWLockClient.Configuration(commandTimeout: .milliseconds(-1)), "commandTimeout"),
            (RWLockClient.Configuration(clusterRetryWindow: .seconds(-1)), "clusterRetryWindow"),
        ])
    func badClientSettings(configuration: RWLockClient.Configuration, setting: String) {
        let error = #expect(throws: RWLockError.self) { try RWLockClient(url: "redis://127.0.0.1:1", configuration: configuration) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains(setting) == true)
    }

    @Test func theRulesNameEveryLiteralCommandTheScriptsPassToRedis() {
        let source = """
            local a = redis.call('GET', KEYS[1])
            redis.pcall( "zadd", KEYS[2], 1, 'm')
            if redis.acl_check_cmd('PUBLISH', KEYS[7], 'm') then end
            redis.acl_check_cmd(command, key)
            redis.error_reply('SET is not a call')
            other.call('DEL', KEYS[1])
            """
        #expect(LockUserRules.commandsNamed(in: source) == ["get", "zadd", "publish"])
        #expect(LockUserRules.scriptCommands.contains("evalsha") == false)
        #expect(Set(["hset", "zadd", "publish", "pexpireat", "zscore", "pttl"]).isSubset(of: LockUserRules.scriptCommands))
    }

    @Test func deploymentsNoClientCanUseThrow() {
        for deployment in [RedisDeployment.cluster(seeds: [])] {
            let error = #expect(throws: RWLockError.self) { try RWLockClient(deployment: deployment) }
            #expect(error?.kind == .invalidConfiguration)
        }
        let tlsOnPlain = #expect(throws: RWLockError.self) {
            try RWLockClient(url: "redis://127.0.0.1:1", configuration: .init(tls: TLSConfiguration(caFile: "/nonexistent")))
        }
        #expect(tlsOnPlain?.kind == .invalidConfiguration)
    }

    @Test(
        "bad names",
        arguments: ["", String(repeating: "x", count: 201), "a{b", "a}b", "has space", "tab\there", "new\nline",
                    "nul\u{0}", "bell\u{7}"])
    func badNames(name: String) {
        let error = #expect(throws: RWLockError.self) { try RWLock(name: name, client: unreachableClient()) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains("lock name") == true)
    }

    @Test func goodNamesMakeTheScriptsKeys() throws {
        let lock = try RWLock(name: String(repeating: "é", count: 100), client: unreachableClient())
        #expect(lock.keys.count == 7)
        let plain = try RWLock(name: "orders:eu-1", client: unreachableClient())
        #expect(plain.keys.map { String(decoding: $0, as: UTF8.self) } == [
            "rwlock:{orders:eu-1}:writer", "rwlock:{orders:eu-1}:readers", "rwlock:{orders:eu-1}:caps",
            "rwlock:{orders:eu-1}:queue", "rwlock:{orders:eu-1}:intents", "rwlock:{orders:eu-1}:fence",
            "rwlock:{orders:eu-1}:channel",
        ])
        var options = RWLock.Options()
        options.keyPrefix = "billing:locks:"
        let prefixed = try RWLock(name: "orders", client: unreachableClient(), options: options)
        #expect(prefixed.keys.map { String(decoding: $0, as: UTF8.self) }.allSatisfy { $0.hasPrefix("billing:locks:{orders}:") })
    }

    @Test(arguments: ["", "a{b", "b}", "app*", "a?", "[x]", "white space", String(repeating: "p", count: 101)])
    func badKeyPrefixes(prefix: String) {
        var options = RWLock.Options()
        options.keyPrefix = prefix
        let error = #expect(throws: RWLockError.self) { try RWLock(name: "orders", client: unreachableClient(), options: options) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains("key prefix") == true, "\(String(describing: error))")
    }

    @Test(
        "bad options",
        arguments: [
            RWLock.Options(lease: .milliseconds(99)),
            RWLock.Options(lease: .seconds(1_000_000)),
            RWLock.Options(hardCap: .milliseconds(50)),
            RWLock.Options(retryInterval: .zero),
            RWLock.Options(retryInterval: .milliseconds(-5)),
            RWLock.Options(driftMargin: .milliseconds(-1)),
            RWLock.Options(lease: .milliseconds(300), driftMargin: .milliseconds(100)),
            RWLock.Options(tokenPrefix: "has space"),
            RWLock.Options(tokenPrefix: String(repeating: "p", count: 101)),
        ])
    func badOptions(options: RWLock.Options) {
        let error = #expect(throws: RWLockError.self) {
            try RWLock(name: "config", client: unreachableClient(), options: options)
        }
        #expect(error?.kind == .invalidConfiguration)
    }

    @Test(arguments: [Duration.zero, .milliseconds(-1)])
    func nonPositiveTimeouts(timeout: Duration) async throws {
        let client = try unreachableClient()
        defer { client.close() }
        let lock = try RWLock(name: "config", client: client)
        let read = await #expect(throws: RWLockError.self) { try await lock.withReadLock(timeout: timeout) {} }
        #expect(read?.kind == .invalidConfiguration)
        let write = await #expect(throws: RWLockError.self) { try await lock.acquireWrite(timeout: timeout) }
        #expect(write?.kind == .invalidConfiguration)
        #expect(client.pool.statistics.connectionsOpened == 0)
        #expect(client.pool.statistics.threadsStarted == 0)
    }

    @Test func r1ValidityCountsFromSendingLessTheDriftMargin() {
        let options = RWLock.Options(lease: .seconds(1), driftMargin: .milliseconds(10))
        let now = ContinuousClock.now
        // Sent now: valid 990 ms, well past the first renewal at 333 ms.
        let prompt = options.validity(sent: now, grantedMilliseconds: 1000)
        #expect(prompt == now + .milliseconds(990))
        #expect(options.isWorthUsing(validUntil: prompt, at: now))
        // The reply took 900 ms: 90 ms left is not worth starting a body on.
        let late = options.validity(sent: now - .milliseconds(900), grantedMilliseconds: 1000)
        #expect(!options.isWorthUsing(validUntil: late, at: now))
        // A hard cap shorter than the lease sets the bar by the cap.
        let capped = RWLock.Options(lease: .seconds(3), hardCap: .milliseconds(300), driftMargin: .zero)
        #expect(capped.isWorthUsing(validUntil: now + .milliseconds(150), at: now))
    }

    @Test func fencesCompareByValue() {
        #expect(Fence(1) < Fence(2))
        #expect(Fence(7).description == "7")
    }
}

/// The injected logger: the lock logs grants, waits and releases at trace
/// and debug only, tagged with its name.
@Suite(.enabled(if: LiveEnvironment.hasServer))
struct LockLoggingTests {
    final class Records: Sendable {
        let entries = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    }

    struct Capture: LogHandler {
        let records: Records
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
                 source: String, file: String, function: String, line: UInt) {
            let merged = self.metadata.merging(metadata ?? [:]) { $1 }
            records.entries.withLock { $0.append((level, message.description, merged)) }
        }
    }

    @Test func grantsAndReleasesAreLoggedAtDebugWithTheLockName() async throws {
        let records = Records()
        let logger = Logger(label: "test") { _ in Capture(records: records) }
        let client = try RWLockClient(url: nil)
        defer { client.close() }
        let name = "t-logging-\(UUID().uuidString.prefix(8))"
        let lock = try RWLock(name: name, client: client, logger: logger)
        let fence = try await lock.withWriteLock { fence in fence }
        let entries = records.entries.withLock { $0 }
        // The last grant: under load an earlier one may have come back too late
        // to use (R1) and been released unused.
        let granted = try #require(entries.last { $0.1 == "granted" })
        #expect(granted.0 == .debug)
        #expect(granted.2["rwlock.name"] == .string(name))
        #expect(granted.2["rwlock.fence"] == .string("\(fence.value)"))
        #expect(entries.contains { $0.1 == "releasing" })
        #expect(entries.allSatisfy { $0.0 <= .debug }, "the lock logs at trace and debug only")
    }
}
