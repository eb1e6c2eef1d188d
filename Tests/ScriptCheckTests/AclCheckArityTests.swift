import Foundation
import Testing
@testable import ScriptCheck

/// Redis 8 refuses `redis.acl_check_cmd` for a command asked about with the
/// wrong number of arguments (7.0, which the mock models, does not look): the
/// lock's scripts would fail outright there. Each shipped script asks with
/// placeholders from its `placeholders` table; every command it asks about
/// must get an argument count its arity accepts.
@Suite struct AclCheckArityTests {
    static let luaDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("lua")

    static var scripts: [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: luaDirectory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "lua" }.sorted { $0.path < $1.path }
    }

    /// The placeholder counts the script's own table declares, read by
    /// running that table in the mock's Lua.
    static func placeholderCounts(in source: String) throws -> [String: Int] {
        let start = try #require(source.range(of: "local placeholders = "))
        let end = try #require(source.range(of: "local function denied", range: start.upperBound..<source.endIndex))
        let table = String(source[start.lowerBound..<end.lowerBound])
        let probe = table + "local out = {}\nfor name, list in pairs(placeholders) do out[#out + 1] = name .. ' ' .. #list end\nreturn out\n"
        let run = ScriptEngine().eval(Script(name: "probe.lua", source: Array(probe.utf8)), keys: [], arguments: [])
        guard case .array(let entries) = run.reply else {
            Issue.record("the placeholders table did not evaluate: \(run.reply)")
            return [:]
        }
        var counts: [String: Int] = [:]
        for case .bulk(let bytes) in entries {
            let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
            counts[String(words[0])] = Int(words[1])
        }
        return counts
    }

    @Test func everyQuestionHasTheArityRedis8Checks() throws {
        #expect(!Self.scripts.isEmpty, "no scripts under \(Self.luaDirectory.path)")
        for url in Self.scripts {
            let source = try String(contentsOf: url, encoding: .utf8)
            let asked = Set(source.matches(of: /denied\('([A-Z]+)'/).map { String($0.output.1) })
            guard !asked.isEmpty else { continue }
            #expect(source.contains("redis.acl_check_cmd(command, key, unpack(placeholders[command]))"),
                    "\(url.lastPathComponent) asks acl_check_cmd without its placeholders")
            let counts = try Self.placeholderCounts(in: source)
            for command in asked.sorted() {
                let info = try #require(RedisCommandTable.commands[command.lowercased()], "\(command) is not a Redis command")
                let count = try #require(counts[command], "\(url.lastPathComponent): no placeholders for \(command)")
                // The command's name and its key, then the placeholders.
                #expect(info.acceptsArgumentCount(2 + count),
                        "\(url.lastPathComponent): \(command) asked with \(2 + count) arguments; its arity is \(info.arity)")
            }
        }
    }
}
