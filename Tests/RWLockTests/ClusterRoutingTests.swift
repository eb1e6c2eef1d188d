import Foundation
import Testing

@testable import RWLock

/// The pure parts of cluster routing: slots, redirects, the slot map, the
/// cluster URL. The live suite (ClusterLiveTests) checks the same against a
/// real cluster.
@Suite("Cluster routing without a server")
struct ClusterRoutingTests {
    @Test func crc16IsXmodem() {
        // The check value of CRC-16/XMODEM, and Redis's own test keys.
        #expect(HashSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(HashSlot(key: Array("foo".utf8)).number == 12182)
        #expect(HashSlot(key: Array("bar".utf8)).number == 5061)
        #expect(HashSlot(key: Array("hello".utf8)).number == 866)
        #expect(HashSlot(key: []).number == 0)
    }

    @Test(arguments: [
        ("{user1000}.following", "user1000"),
        ("foo{bar}{zap}", "bar"),
        ("foo{{bar}}zap", "{bar"),
        ("foo{}{bar}", "foo{}{bar}"),  // an empty tag means no tag
        ("foo{bar", "foo{bar"),
        ("}{x}", "x"),
        ("rwlock:{orders}:writer", "orders"),
    ])
    func hashTag(key: String, tag: String) {
        #expect(Array(HashSlot.hashTag(of: Array(key.utf8))) == Array(tag.utf8))
        #expect(HashSlot(key: Array(key.utf8)) == HashSlot(key: Array(tag.utf8)) || key == tag)
    }

    @Test func everyKeyOfALockSharesOneSlot() throws {
        let client = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1)))
        defer { client.close() }
        let lock = try RWLock(name: "invoices-2026", client: client)
        let slots = Set(lock.keys.map(HashSlot.init(key:)))
        #expect(slots == [HashSlot(key: Array("invoices-2026".utf8))])
    }

    @Test func redirectsAreParsed() {
        let node = NodeAddress(host: "10.0.0.7", port: 7001)
        #expect(ClusterRedirect(errorReply: "MOVED 3999 10.0.0.7:7001") == .moved(HashSlot(number: 3999)!, node))
        #expect(ClusterRedirect(errorReply: "ASK 3999 10.0.0.7:7001") == .ask(HashSlot(number: 3999)!, node))
        #expect(ClusterRedirect(errorReply: "MOVED 1 ::1:7000") == .moved(HashSlot(number: 1)!, NodeAddress(host: "::1", port: 7000)))
        #expect(ClusterRedirect(errorReply: "TRYAGAIN Multiple keys request during rehashing of slot") == .tryAgain)
        #expect(ClusterRedirect(errorReply: "CLUSTERDOWN The cluster is down") == .clusterDown)
        // Ordinary errors, and malformed redirects, are the command's answer.
        for message in ["ERR unknown command", "MOVED 16384 h:1", "MOVED x h:1", "MOVED 1 h", "MOVED 1 h:0", "ASK 1", "WRONGTYPE x"] {
            #expect(ClusterRedirect(errorReply: message) == nil, "\(message)")
        }
        #expect(ClusterRedirect(reply: .bulk("MOVED 1 h:1")) == nil)
    }

    static func node(_ host: String, _ port: Int64, _ id: String) -> RESPValue {
        .array([.bulk(host), .integer(port), .bulk(id), .array([])])
    }

    @Test func clusterSlotsReplyBecomesASlotMap() throws {
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), Self.node("127.0.0.1", 7000, "a"), Self.node("127.0.0.1", 7003, "d")]),
            .array([.integer(5461), .integer(10922), Self.node("", 7001, "b"), Self.node("127.0.0.1", 7004, "e")]),
            .array([.integer(10923), .integer(16383), Self.node("?", 7002, "c")]),
        ])
        let map = try SlotMap(clusterSlots: reply, askedHost: "10.1.1.1")
        #expect(map.masters == [NodeAddress(host: "127.0.0.1", port: 7000), NodeAddress(host: "10.1.1.1", port: 7001),
                                NodeAddress(host: "10.1.1.1", port: 7002)])
        #expect(map.nodes.count == 5)
        #expect(map.coveredSlots == 16384)
        #expect(map[HashSlot(number: 5460)!] == NodeAddress(host: "127.0.0.1", port: 7000))
        #expect(map[HashSlot(number: 5461)!]?.port == 7001)
        #expect(map[HashSlot(number: 16383)!]?.port == 7002)

        var moved = map
        moved.assign(HashSlot(number: 0)!, to: NodeAddress(host: "127.0.0.1", port: 7009))
        #expect(moved[HashSlot(number: 0)!]?.port == 7009)
        #expect(moved[HashSlot(number: 1)!]?.port == 7000)
        #expect(moved.masters.count == 4)
    }

    @Test func partialCoverageIsCounted() throws {
        let reply = RESPValue.array([.array([.integer(100), .integer(199), Self.node("h", 1, "a")])])
        let map = try SlotMap(clusterSlots: reply, askedHost: "x")
        #expect(map.coveredSlots == 100)
        #expect(map[HashSlot(number: 99)!] == nil)
    }

    @Test(arguments: [
        RESPValue.status("OK"),
        .array([.array([.integer(5), .integer(4), node("h", 1, "a")])]),
        .array([.array([.integer(0), .integer(16384), node("h", 1, "a")])]),
        .array([.array([.integer(0), .integer(1)])]),
        .array([.array([.integer(0), .integer(1), .array([.bulk("h"), .integer(0)])])]),
    ])
    func malformedClusterSlotsIsAProtocolError(reply: RESPValue) {
        let error = #expect(throws: RWLockError.self) { try SlotMap(clusterSlots: reply, askedHost: "x") }
        #expect(error?.kind == .protocolError)
    }

    @Test func clusterURLs() throws {
        let deployment = try RedisDeployment(url: "redis+cluster://alice:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002")
        guard case .cluster(let seeds) = deployment.kind else {
            Issue.record("not a cluster: \(deployment)")
            return
        }
        #expect(seeds.map(\.address) == [.tcp(host: "10.0.0.1", port: 7000), .tcp(host: "10.0.0.2", port: 6379),
                                          .tcp(host: "::1", port: 7002)])
        #expect(seeds.allSatisfy { $0.username == "alice" && $0.password == "s@cret" && $0.database == 0 })
        #expect(deployment.description == "redis+cluster://alice:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002")
        #expect(try RedisDeployment(url: "REDIS+CLUSTER://h:1/0") == .cluster(seeds: [RedisEndpoint(address: .tcp(host: "h", port: 1))]))
        #expect(try RedisDeployment(url: "redis://h:1/3") == .server(RedisEndpoint(address: .tcp(host: "h", port: 1), database: 3)))
        #expect(try RedisDeployment.fromEnvironment("redis+cluster://h:1") == .cluster(seeds: [RedisEndpoint(address: .tcp(host: "h", port: 1))]))
    }

    @Test(arguments: [
        ("redis+cluster://", "seed nodes are missing"),
        ("redis+cluster://h:1,,h:2", "empty"),
        ("redis+cluster://h:1/2", "only database 0"),
        ("redis+cluster://h:1?x=1", "query"),
        ("redis+cluster://h:99999", "port"),
        ("redis+cluster://:pw@h:1#x", "fragments"),
        ("redis+cluster://:p/w@h:7000", "percent-encode"),
        ("redis+cluster://u:p?w@h:7000", "percent-encode"),
        ("redis+cluster://h:1, h:2", "whitespace"),
    ])
    func badClusterURLs(url: String, mentions: String) {
        let error = #expect(throws: RWLockError.self) { try RedisDeployment(url: url) }
        #expect(error?.kind == .invalidConfiguration)
        #expect(error?.description.contains(mentions) == true, "\(error?.description ?? "")")
        for secret in ["pw", "p/w", "p?w"] where url.contains(secret) {
            #expect(error?.description.contains(secret) != true, "a password leaked: \(error?.description ?? "")")
        }
    }

    /// A raw '/' or '?' in a password used to end the authority early, and
    /// the message quoted what followed it: the password.
    @Test(arguments: ["redis://:se/cret@h:1/2", "redis://u:se?cret@h:1", "redis://:se#cret@h:1"])
    func passwordsWithRawDelimitersNeverLeak(url: String) {
        let error = #expect(throws: RWLockError.self) { try RedisEndpoint(url: url) }
        #expect(error?.description.contains("percent-encode") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("cret") != true, "a password leaked: \(error?.description ?? "")")
    }

    @Test func aClusterURLIsNotOneServer() {
        let error = #expect(throws: RWLockError.self) { try RedisEndpoint(url: "redis+cluster://h:1") }
        #expect(error?.description.contains("try RWLockClient(url:)") == true)
    }

    @Test func replicatedGrantsAreChecked() throws {
        let client = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1)))
        defer { client.close() }
        for bad in [RWLock.Options.ReplicatedGrants(replicas: 0), .init(replicas: 1, timeout: .zero),
                    .init(replicas: 1, timeout: .seconds(1))] {
            let error = #expect(throws: RWLockError.self) {
                try RWLock(name: "x", client: client, options: .init(lease: .seconds(1), replicatedGrants: bad))
            }
            #expect(error?.kind == .invalidConfiguration)
        }
        _ = try RWLock(name: "x", client: client, options: .init(lease: .seconds(1), replicatedGrants: .init(replicas: 2, timeout: .milliseconds(300))))
        // A WAIT longer than the client waits for any reply would surface as
        // a broken connection, not as unconfirmed.
        let impatient = try RWLockClient(endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1)), configuration: .init(commandTimeout: .milliseconds(500)))
        defer { impatient.close() }
        let error = #expect(throws: RWLockError.self) {
            try RWLock(name: "x", client: impatient,
                       options: .init(lease: .seconds(9), replicatedGrants: .init(replicas: 1, timeout: .seconds(1))))
        }
        #expect(error?.description.contains("command timeout") == true)
    }

    @Test func redirectsWithoutAHostAreOnTheNodeThatAnswered() {
        let answered = NodeAddress(host: "10.0.0.3", port: 7000)
        #expect(ClusterRedirect(reply: .error("MOVED 12 :7005"), from: answered)
            == .moved(HashSlot(number: 12)!, NodeAddress(host: "10.0.0.3", port: 7005)))
        #expect(ClusterRedirect(reply: .error("MOVED 12 :7005")) == nil)
    }
}

@Suite("Cluster client failures")
struct ClusterClientFailureTests {
    /// No seed answers: the router keeps trying to learn the slot map, but
    /// no longer than the acquire may wait (not the 10 s retry window), and
    /// the error says what the last attempt met.
    @Test func anUnreachableClusterFailsWithinTheAcquireTimeout() async throws {
        let client = try RWLockClient(url: "redis+cluster://127.0.0.1:1,127.0.0.1:2", configuration: .init(clusterRetryWindow: .seconds(10)))
        defer { client.close() }
        let lock = try RWLock(name: "nowhere", client: client)
        let started = ContinuousClock.now
        let error = await #expect(throws: RWLockError.self) { try await lock.acquireWrite(timeout: .milliseconds(300)) }
        #expect(ContinuousClock.now - started < .seconds(5), "bounded by the acquire's timeout, not the retry window")
        #expect(error?.kind == .connection)
        #expect(error?.description.contains("slot map") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("refused") == true, "\(error?.description ?? "")")
        #expect((client.router?.statistics.retries ?? 0) >= 1)
    }

    /// A cluster URL naming a plain server: the message says why.
    @Test(.enabled(if: LiveEnvironment.hasServer))
    func aServerWithoutClusterSupportIsNamedAsSuch() async throws {
        guard case .server(let server) = try RedisDeployment.fromEnvironment().kind,
            case .tcp(let host, let port) = server.address
        else {
            Issue.record("REDIS_URL must name one TCP server for this test")
            return
        }
        let client = try RWLockClient(url: "redis+cluster://\(host):\(port)", configuration: .init(clusterRetryWindow: .milliseconds(200)))
        defer { client.close() }
        let lock = try RWLock(name: "not-a-cluster", client: client)
        let error = await #expect(throws: RWLockError.self) { try await lock.acquireWrite(timeout: .seconds(5)) }
        #expect(error?.description.contains("cluster support disabled") == true, "\(error?.description ?? "")")
    }
}
