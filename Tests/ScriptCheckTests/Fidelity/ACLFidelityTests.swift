import Foundation
import Testing
@testable import RWLock
@testable import ScriptCheck

extension Fidelity {
    /// The mock's ACL user against Redis's: for each kind of denial, a user
    /// made on the server with rules that refuse the same (and nothing else
    /// the scripts here touch) runs the same scripts as the mock's user;
    /// replies must agree byte for byte, refusals, `redis.acl_check_cmd`
    /// answers and its errors included. The users are made with a unique
    /// name and deleted afterwards, whatever happens.
    @Suite struct ACLUsers {
        /// Rules on the server, and the mock's denial that matches them for
        /// the keys `k` and `ok:a` and the channels `denied` and `ok:c`.
        static let cases: [(rules: [String], denial: RedisUser.Denial)] = [
            (["+@all", "-zadd", "~*", "&*"], .command("zadd")),
            (["+@all", "-zadd", "~*", "&*", "(+zadd ~ok:*)"], .commandOnKey("zadd", key: Array("k".utf8))),
            (["+@all", "~ok:*", "&*"], .key(Array("k".utf8))),
            (["+@all", "~*", "&ok:*"], .channel(Array("denied".utf8))),
        ]

        /// Scripts run with ARGV `k` and `ok:a`, not KEYS: Redis checks
        /// EVAL's own keys against the user before the script runs, so a
        /// denied key must reach the script another way to meet its check.
        static let scripts = [
            "return redis.pcall('ZADD', ARGV[1], 1, 'm')",
            "return redis.pcall('ZADD', ARGV[2], 1, 'm')",
            "redis.call('SET', ARGV[2], 'v')\nreturn redis.call('ZADD', ARGV[1], 1, 'm')",
            "return redis.pcall('GET', ARGV[1])",
            "return redis.pcall('DEL', ARGV[2], ARGV[1])",
            "return redis.pcall('PUBLISH', 'denied', 'm')",
            "return redis.call('PUBLISH', 'denied', 'm')",
            "return redis.pcall('PUBLISH', 'ok:c', 'm')",
            "return redis.pcall('ZADD', ARGV[1])",
            """
            return {redis.acl_check_cmd('ZADD', ARGV[1]) == true, redis.acl_check_cmd('ZADD', ARGV[2]) == true,
                    redis.acl_check_cmd('zadd') == true, redis.acl_check_cmd('GET', ARGV[1]) == true,
                    redis.acl_check_cmd('PUBLISH', 'denied', 'm') == true, redis.acl_check_cmd('PUBLISH', 'ok:c') == true,
                    redis.acl_check_cmd('DEL', ARGV[2], ARGV[1]) == true, redis.acl_check_cmd('TIME') == true}
            """,
            "return redis.acl_check_cmd('nosuch')",
            "return {pcall(redis.acl_check_cmd, 'config', 'nosuch')}",
        ]

        @Test func refusalsMatchRedis() async throws {
            if let report = try await offThePool({ try Self.compare() }) {
                Issue.record(Comment(rawValue: report))
            }
        }

        static func compare() throws -> String? {
            let admin = try FidelityServer.connect()
            let password = "fidelity-\(UInt64.random(in: 0...UInt64.max).hex)"
            var mismatches: [String] = []
            var compared = 0
            for (index, (rules, denial)) in cases.enumerated() {
                let name = "scriptcheck-fidelity-\(index)-\(UInt64.random(in: 0...UInt64.max).hex)"
                let created = try admin.command((["ACL", "SETUSER", name, "reset", "on", ">" + password] + rules).map { Array($0.utf8) })
                guard case .status = created else { return "ACL SETUSER \(rules) answered \(created)" }
                defer { _ = try? admin.command(["ACL", "DELUSER", name].map { Array($0.utf8) }) }
                var endpoint = try FidelityServer.endpoint()
                endpoint.username = name
                endpoint.password = password
                let user = try HiredisConnection(endpoint: endpoint, commandTimeout: .seconds(10))
                for source in scripts {
                    _ = try admin.command([Array("FLUSHDB".utf8)])
                    let engine = ScriptEngine()
                    engine.user = RedisUser(denying: denial)
                    let names = [Array("k".utf8), Array("ok:a".utf8)]
                    let mock = normalized(engine.eval(Script(name: "acl", source: Array(source.utf8)), keys: [], arguments: names).reply)
                    let server = mockReply(try user.command([Array("EVAL".utf8), Array(source.utf8), Array("0".utf8)] + names))
                    compared += 1
                    if mock != server {
                        mismatches.append("as a user with \(rules) (\(denial)): \(describe(words: [source]))\n  mock:   \(describe(mock))\n  server: \(describe(server))")
                    }
                }
            }
            _ = try admin.command([Array("FLUSHDB".utf8)])
            print("Fidelity ACL users: \(compared) scripts compared as \(cases.count) restricted users")
            return mismatches.isEmpty ? nil : "ACL refusals differ from Redis:\n" + mismatches.joined(separator: "\n")
        }
    }
}
