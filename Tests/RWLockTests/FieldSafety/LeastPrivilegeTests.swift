import Foundation
import Testing

@testable import RWLock

extension FieldSafety {
    /// R6 on a real server with users the tests create: the rules `rwlock
    /// acl` prints let a user do everything the lock does and nothing else,
    /// and a user missing any one of them is refused at its first acquire,
    /// naming what to add, before a key of the lock exists.
    @Suite(.enabled(if: LiveEnvironment.runs(PrivateServer.path != nil)), .timeLimit(.minutes(3)))
    struct LeastPrivilegeTests {
        typealias Run = RwlockCommandTests.Run
        static let prefix = "app1:"

        /// A private server on a TCP port of its own (and its plain unix
        /// socket for the test's admin commands).
        func server() async throws -> (PrivateServer, Int) {
            let port = try TLSFixture.freePort()
            let server = try PrivateServer(["--port", String(port)])
            try await server.start()
            return (server, port)
        }

        func makeUser(_ server: PrivateServer, _ name: String, rules: String) async throws {
            let reply = try await server.command(["ACL", "SETUSER", name, "reset", "on", ">pw-\(name)"] + rules.split(separator: " ").map(String.init))
            #expect(reply == .status("OK"), "ACL SETUSER \(name) \(rules): \(reply)")
        }

        func client(port: Int, user: String) throws -> RWLockClient {
            try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port), username: user, password: "pw-\(user)"))
        }

        func options() -> RWLock.Options {
            var options = RWLock.Options(lease: .seconds(2), retryInterval: .seconds(3), restartQuarantine: .disabled)
            options.keyPrefix = Self.prefix
            return options
        }

        /// The lock's keys that exist on `server`.
        func lockKeys(_ server: PrivateServer) async throws -> [String] {
            guard case .array(let keys) = try await server.command(["KEYS", "\(Self.prefix)*"]) else { return ["?"] }
            return keys.compactMap(\.string)
        }

        /// Everything the lock does, as a user with exactly the rules: and
        /// every command that reached the server (through a recording proxy)
        /// is one the rules name.
        @Test func theRulesAllowEverythingTheLockDoesAndNameEveryCommandItSends() async throws {
            let (server, port) = try await server()
            try await makeUser(server, "locker", rules: try RWLock.aclRules(keyPrefix: Self.prefix))
            let proxy = try LoopbackProxy(upstreamPort: UInt16(port))
            defer { proxy.close() }
            let endpoint = RedisEndpoint(address: .tcp(host: "127.0.0.1", port: Int(proxy.port)), username: "locker", password: "pw-locker")
            let client = try RWLockClient(endpoint: endpoint), other = try RWLockClient(endpoint: endpoint)
            defer { client.close(); other.close() }
            let lock = try RWLock(name: "orders", client: client, options: options())
            let otherLock = try RWLock(name: "orders", client: other, options: options())

            let lease = try await lock.acquireWrite(timeout: .seconds(2))
            try await lease.renew()
            try await lease.downgrade()
            #expect(try await lock.inspect().readers.count == 1)
            // A writer of another client waits, and is woken by the release
            // (its re-check interval is 3 s): pub/sub works for the user.
            let waiting = Task { try await otherLock.withWriteLock(timeout: .seconds(20)) { _ in ContinuousClock.now } }
            #expect(await ProcessProbe.eventually { other.subscriber.sleepers(on: otherLock.channel) == 1 })
            let released = ContinuousClock.now
            try await lease.release()
            #expect(try await waiting.value - released < .seconds(1), "the waiter was not woken by the release")
            let held = try await otherLock.acquireRead(timeout: .seconds(2))
            #expect(try await lock.evict(token: held.token))
            _ = try await lock.acquireWrite(timeout: .seconds(2))
            try await lock.reset()
            #expect(try await lock.inspect().writer == nil)

            // Every command that reached the server, by its ACL name.
            let allowed = Set(LockUserRules.commands)
            var sent: Set<String> = []
            for exchange in proxy.forwarded {
                guard let first = exchange.words.first?.lowercased(), first != "auth" else { continue }
                let second = exchange.words.dropFirst().first?.lowercased() ?? ""
                sent.insert(["script", "client", "cluster"].contains(first) ? "\(first)|\(second)" : first)
            }
            #expect(sent.isSubset(of: allowed), "sent but not in the rules: \(sent.subtracting(allowed).sorted())")
            #expect(sent.contains("evalsha") && sent.contains("multi") && sent.contains("info"), "\(sent.sorted())")
            // And the subscriber's own connection (not proxied here) only
            // subscribes: covered by the rules' subscribe, unsubscribe and
            // client|setname, which the first waiter above needed.
            withExtendedLifetime(server) {}
        }

        /// Each permission taken away alone: the first acquire is refused
        /// with `.permissionDenied` naming the rule to add, and no key of the
        /// lock exists.
        @Test(arguments: [
            ("-info", "+info"), ("-evalsha", "+evalsha"), ("-script|load", "+script|load"), ("-publish", "+publish"),
            ("-subscribe", "+subscribe"), ("-zadd", "+zadd"), ("-hset", "+hset"),
            ("resetchannels", "&app1:*"), ("resetkeys ~other:*", "~app1:*"),
        ])
        func aMissingPermissionIsRefusedBeforeAnythingChanges(taken: String, named rule: String) async throws {
            let (server, port) = try await server()
            try await makeUser(server, "short", rules: try RWLock.aclRules(keyPrefix: Self.prefix) + " " + taken)
            let client = try client(port: port, user: "short")
            defer { client.close(); withExtendedLifetime(server) {} }
            let lock = try RWLock(name: "orders", client: client, options: options())
            for mode in [Lease.Mode.write, .read] {
                let error = await #expect(throws: RWLockError.self) {
                    _ = try await (mode == .write ? lock.acquireWrite(timeout: .seconds(1)) : lock.acquireRead(timeout: .seconds(1)))
                }
                #expect(error?.kind == .permissionDenied, "\(taken): \(String(describing: error))")
                #expect(error.map(String.init(describing:))?.contains(rule) == true, "\(taken) should name \(rule): \(String(describing: error))")
            }
            #expect(try await lockKeys(server).isEmpty, "\(taken): keys were created")
        }

        /// What the check before the first acquire cannot see (a permission
        /// taken away while a lease is held) the scripts catch before their
        /// first write: the release of a lease whose user lost the channel
        /// changes nothing, and says why.
        @Test func aScriptRefusedAPermissionChangesNothing() async throws {
            let (server, port) = try await server()
            let rules = try RWLock.aclRules(keyPrefix: Self.prefix)
            try await makeUser(server, "locker", rules: rules)
            let client = try client(port: port, user: "locker")
            defer { client.close(); withExtendedLifetime(server) {} }
            let lock = try RWLock(name: "orders", client: client, options: options())
            let lease = try await lock.acquireWrite(timeout: .seconds(2))
            let before = try await lockKeys(server).sorted()
            try await makeUser(server, "locker", rules: rules + " resetchannels")
            let error = await #expect(throws: RWLockError.self) { try await lease.release() }
            #expect(error?.kind == .permissionDenied, "\(String(describing: error))")
            #expect(try await lockKeys(server).sorted() == before, "the refused release changed the lock")
            guard case .bulk(let holder) = try await server.command(["HGET", "\(Self.prefix){orders}:writer", "token"]) else {
                Issue.record("the write lease is gone")
                return
            }
            #expect(String(decoding: holder, as: UTF8.self) == lease.token)
        }

        /// The usual "everything but the dangerous" user lacks INFO: refused,
        /// naming +info; rwlock exits 78 without running COMMAND; `rwlock
        /// acl` prints the library's rules.
        @Test func rwlockRefusesALimitedUserWith78AndPrintsTheRules() async throws {
            let (server, port) = try await server()
            try await makeUser(server, "usual", rules: "~* &* +@all -@dangerous")
            defer { withExtendedLifetime(server) {} }
            let files = try ProcessProbe.directory()
            defer { try? FileManager.default.removeItem(at: files) }
            let ran = files.appendingPathComponent("ran").path
            let result = try await Run(["write", "orders", "--url", "redis://usual:pw-usual@127.0.0.1:\(port)",
                                        "--restart-quarantine", "0", "--", "touch", ran]).finish()
            #expect(result.status == 78, "\(result.stderr)")
            #expect(result.stderr.contains("+info"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: ran), "COMMAND ran")

            let printed = try await Run(["acl", "--prefix", "billing:"]).finish()
            #expect(printed.status == 0)
            #expect(printed.stdout == (try RWLock.aclRules(keyPrefix: "billing:")) + "\n")
            #expect(printed.stdout.hasPrefix("resetkeys ~billing:* resetchannels &billing:* -@all +"))
            #expect(try await Run(["acl", "--prefix", "bad{"]).finish().status == 64)
        }

        /// No password ever shows: not in rwlock's errors for a wrong one
        /// (in the URL or in REDISCLI_AUTH), not in `inspect`, not in the
        /// library's errors.
        @Test func aPasswordNeverShows() async throws {
            let (server, port) = try await server()
            try await makeUser(server, "locker", rules: try RWLock.aclRules(keyPrefix: Self.prefix))
            defer { withExtendedLifetime(server) {} }
            let secret = "s3cret-do-not-print"
            let wrongURL = try await Run(["inspect", "orders", "--url", "redis://locker:\(secret)@127.0.0.1:\(port)"]).finish()
            #expect(wrongURL.status != 0)
            #expect(!wrongURL.stderr.contains(secret) && !wrongURL.stdout.contains(secret), "\(wrongURL.stderr)")
            #expect(wrongURL.stderr.contains("WRONGPASS"), "\(wrongURL.stderr)")

            let viaEnvironment = try await runWithEnvironment(
                ["inspect", "orders", "--url", "redis://locker@127.0.0.1:\(port)", "--prefix", Self.prefix], ["REDISCLI_AUTH": secret])
            #expect(viaEnvironment.status != 0)
            #expect(!viaEnvironment.stderr.contains(secret), "\(viaEnvironment.stderr)")
            let right = try await runWithEnvironment(
                ["inspect", "orders", "--json", "--url", "redis://locker@127.0.0.1:\(port)", "--prefix", Self.prefix],
                ["REDISCLI_AUTH": "pw-locker"])
            #expect(right.status == 0, "REDISCLI_AUTH was not used: \(right.stderr)")
            #expect(!right.stdout.contains("pw-locker"))

            let client = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port), username: "locker", password: secret))
            defer { client.close() }
            let error = await #expect(throws: RWLockError.self) { try await RWLock(name: "orders", client: client).inspect() }
            #expect(error.map(String.init(describing:))?.contains(secret) == false, "\(String(describing: error))")
            #expect(client.deployment.description.contains(secret) == false)
        }

        /// rwlock with extra environment variables.
        func runWithEnvironment(_ arguments: [String], _ extra: [String: String]) async throws -> RwlockCommandTests.Result {
            try await Run(arguments, environment: extra).finish()
        }
    }
}
