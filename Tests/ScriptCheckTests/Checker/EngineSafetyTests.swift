import Testing
import SHA1Digest
@testable import ScriptCheck

/// A malformed script is a finding, never a crash or a hang: runaway loops
/// stop at the instruction budget (even when they catch the error), memory
/// hogs stop at the cap, and the engine stays usable afterwards.
@Suite(.timeLimit(.minutes(1))) struct EngineSafetyTests {
    func run(_ source: String, engine: ScriptEngine = ScriptEngine(instructionBudget: 100_000, memoryLimit: 16 << 20)) -> ScriptRun {
        engine.eval(Script(name: "s.lua", source: Array(source.utf8)), keys: [], arguments: [])
    }

    @Test func runawayLoopStopsAtTheBudget() {
        #expect(run("while true do end").problems == [.budgetExceeded(instructions: 100_000)])
    }

    @Test func loopThatCatchesTheBudgetErrorStillStops() {
        let result = run("while true do pcall(function() while true do end end) end")
        #expect(result.problems == [.budgetExceeded(instructions: 100_000)])
    }

    @Test func memoryHogStopsAtTheCap() {
        let result = run("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end")
        #expect(result.problems.contains(.outOfMemory) || result.problems.contains(.budgetExceeded(instructions: 100_000)))
    }

    @Test func engineStaysUsableAfterAFailure() {
        let engine = ScriptEngine(instructionBudget: 100_000, memoryLimit: 16 << 20)
        _ = run("while true do end", engine: engine)
        _ = run("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end", engine: engine)
        #expect(run("return redis.call('SET', 'k', 'v')", engine: engine).reply == .status("OK"))
    }

    @Test func deepRecursionIsAnErrorReply() {
        let reply = run("local function f() return 1 + f() end return f()").reply
        guard case .error(let text) = reply else {
            Issue.record("expected an error reply, got \(reply)")
            return
        }
        #expect(text.contains("stack overflow") || text.contains("budget"))
    }

    @Test func undeclaredKeysAreRecorded() {
        let engine = ScriptEngine()
        let result = engine.eval(Script(name: "k.lua", source: Array("return redis.call('GET', 'elsewhere')".utf8)),
                                 keys: [Array("mine".utf8)], arguments: [])
        #expect(result.problems == [.undeclaredKey(command: "get", key: "elsewhere")])
    }

    @Test func sha1MatchesKnownVectors() {
        #expect(SHA1.hex(Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hex([]) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        // 56 bytes: the padding spills into a second block.
        #expect(SHA1.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
    }

    @Test func redisCliFormatIndentsNestedArraysLikeRedisCli() {
        let reply = RedisReply.array((1...10).map { .array([.integer(Int64($0)), .bulk("a\n\"b\"\u{1}")]) } + [.array([])])
        let text = String(decoding: RedisCliFormat.format(reply), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == " 1) 1) (integer) 1")
        #expect(lines[1] == "    2) \"a\\n\\\"b\\\"\\x01\"")
        #expect(lines[20] == "11) (empty array)")
    }
}
