import Testing
@testable import ScriptCheck

/// The linter's static checks, each shown to fire on a small script and to
/// stay quiet on the good one.
@Suite struct LintTests {
    let header = """
    -- KEYS[1] writer  the key
    -- ARGV[1] token   the token
    -- REPLY int | error

    """

    func findings(_ body: String) -> [String] {
        let script = Script(name: "probe.lua", source: Array((header + body).utf8))
        return Linter.lint(script, header: nil, engine: ScriptEngine()).map(\.message)
    }

    @Test func cleanScriptHasNoFindings() {
        #expect(findings("local t = redis.call('GET', KEYS[1])\nreturn tonumber(t) or 0\n").isEmpty)
    }

    @Test func globalWriteAndUnknownReadAreFound() {
        let found = findings("counter = 1\nreturn undefined_thing\n")
        #expect(found.contains { $0.contains("sets global 'counter'") })
        #expect(found.contains { $0.contains("reads global 'undefined_thing'") })
    }

    @Test func globalsInsideNestedFunctionsAreFound() {
        let found = findings("local function f() return hidden end\nreturn f()\n")
        #expect(found.contains { $0.contains("reads global 'hidden'") })
    }

    @Test func undeclaredKeysAndArgvIndicesAreFound() {
        let found = findings("redis.call('GET', KEYS[2])\nreturn ARGV[3]\n")
        #expect(found.contains { $0.contains("KEYS[2]") })
        #expect(found.contains { $0.contains("ARGV[3]") })
    }

    @Test(arguments: ["KEYS", "SCAN", "BLPOP", "RANDOMKEY", "SPOP"])
    func commandsOffTheAllowListAreFound(command: String) {
        let found = findings("return redis.call('\(command)', KEYS[1])\n")
        #expect(found.contains { $0.contains(command) && $0.contains("allow-list") })
    }

    @Test func aclCheckCmdIsPartOfTheEnvironment() {
        // R6: the scripts ask redis.acl_check_cmd before their first write,
        // and check that it exists (Redis before 7.0 has none).
        let body = "if redis.acl_check_cmd and not redis.acl_check_cmd('PUBLISH', KEYS[1]) then return 0 end\n"
            + "return redis.call('DEL', KEYS[1])\n"
        #expect(findings(body).isEmpty)
    }

    @Test func mathRandomIsFound() {
        #expect(findings("return math.random(10)\n").contains { $0.contains("math.random") })
    }

    @Test func syntaxErrorsAreFindingsNotCrashes() {
        #expect(findings("return 1 +\n").contains { $0.hasPrefix("syntax error") })
    }

    @Test func missingOrMalformedReplyShapeIsFound() {
        let script = Script(name: "noheader.lua", source: Array("return 1\n".utf8))
        let found = Linter.lint(script, header: nil, engine: ScriptEngine()).map(\.message)
        #expect(found.contains { $0.contains("no header") })
        #expect(found.contains { $0.contains("no REPLY") })
    }

    @Test func replyShapesParseAndMatch() throws {
        let shape = try #require(ReplyShape(parsing: "{int, int, int} | error"))
        #expect(shape.matches(.array([.integer(1), .integer(2), .integer(3)])))
        #expect(shape.matches(.error("ERR x")))
        #expect(!shape.matches(.array([.integer(1), .integer(2)])))
        #expect(!shape.matches(.bulk("1")))
        let list = try #require(ReplyShape(parsing: "{bulk, {any...}}"))
        #expect(list.matches(.array([.bulk("a"), .array([.integer(1), .bulk("b")])])))
        #expect(ReplyShape(parsing: "{int,") == nil)
        #expect(ReplyShape(parsing: "number") == nil)
    }
}
