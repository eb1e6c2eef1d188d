import Foundation
import Testing
@testable import ScriptCheck

/// The mutation operators on small Lua snippets, and the runner on one
/// deliberately weakened script.
@Suite struct MutationTests {
    /// The mutants one operator makes of `lua`, as their mutated lines.
    static func mutated(_ op: MutationOperator, _ lua: String, operation: LockOperation = .release) -> [String] {
        MutationOperators.mutants(of: Array(lua.utf8), operation: operation, operators: [op]).map(\.mutated)
    }

    // MARK: Lexer

    @Test func lexerSeparatesCommentsStringsAndCode() {
        let tokens = LuaLexer.tokens(Array("local a = 'x -- y' -- c == d\n--[[ long\n == ]] b = [[s\n]] .. 1e3 ~= 0x1F".utf8))
        #expect(tokens.map(\.kind) == [.keyword, .name, .symbol, .string, .comment, .comment, .name, .symbol, .string, .symbol, .number, .symbol, .number])
        #expect(tokens[3].text == "'x -- y'")
        #expect(tokens[5].text == "--[[ long\n == ]]")
        #expect(tokens[6].line == 3)
        #expect(tokens.last?.line == 4)
        #expect(tokens[3].quotedContents == "x -- y")
    }

    @Test func commentsAndStringsAreUntouched() {
        let lua = """
            -- if a == b then return {1, 2} end
            local s = 'a == b and c < d'
            --[[ x ~= y or math.max(1, 2) ]]
            local t = "KEYS[1] > 0"
            """
        for op in MutationOperator.allCases {
            #expect(Self.mutated(op, lua).isEmpty, "\(op.rawValue) mutated a comment or a string")
        }
    }

    // MARK: Operators

    @Test func dropCallRemovesStatementsOnly() {
        let lua = """
            local x = redis.call('GET', KEYS[1])
            redis.call('DEL', KEYS[1])
            if x then redis.call('PUBLISH', KEYS[2], 'm') end
            local t = redis.call('TYPE', KEYS[1]).ok
            redis.call('PEXPIREAT', KEYS[1], 5)
            """
        #expect(Self.mutated(.dropCall, lua) == ["local _ = nil", "if x then local _ = nil end"])
        #expect(Self.mutated(.dropExpiry, lua) == ["local _ = nil"])
        let mutant = MutationOperators.mutants(of: Array(lua.utf8), operation: .release, operators: [.dropCall])[0]
        #expect(mutant.line == 2)
        #expect(mutant.original == "redis.call('DEL', KEYS[1])")
    }

    @Test func dropExpiryRemovesPXArgument() {
        #expect(Self.mutated(.dropExpiry, "redis.call('SET', KEYS[6], fence, 'PX', 604800000)")
                == ["redis.call('SET', KEYS[6], fence)"])
        #expect(Self.mutated(.dropExpiry, "redis.call('SET', KEYS[1], v, 'px', math.max(a, b), 'NX')")
                == ["redis.call('SET', KEYS[1], v, 'NX')"])
    }

    @Test func comparisonOperators() {
        #expect(Self.mutated(.flipEquality, "if a == b or c ~= d then end") == ["if a ~= b or c ~= d then end", "if a == b or c == d then end"])
        #expect(Self.mutated(.flipComparison, "x = a < b and c >= d") == ["x = a > b and c >= d", "x = a < b and c <= d"])
        #expect(Self.mutated(.comparisonBoundary, "x = a < b and c >= d") == ["x = a <= b and c >= d", "x = a < b and c > d"])
        #expect(Self.mutated(.flipLogical, "x = a and b or c") == ["x = a or b or c", "x = a and b and c"])
    }

    @Test func negateIfAndElseif() {
        #expect(Self.mutated(.negateCondition, "if f(a, b) == 1 then x() elseif y then z() end")
                == ["if not (f(a, b) == 1) then x() elseif y then z() end", "if f(a, b) == 1 then x() elseif not (y) then z() end"])
    }

    @Test func swapReturnSwapsEveryPairOnce() {
        #expect(Self.mutated(.swapReturn, "return {1, deadline - now, f(a, b)}")
                == ["return {deadline - now, 1, f(a, b)}", "return {f(a, b), deadline - now, 1}", "return {1, f(a, b), deadline - now}"])
        // Equal elements make no mutant; a table that is indexed is no return constructor.
        #expect(Self.mutated(.swapReturn, "return {0, 0}").isEmpty)
        #expect(Self.mutated(.swapReturn, "return {1, 2}[1]").isEmpty)
    }

    @Test func literalOperators() {
        #expect(Self.mutated(.flipNXXX, "redis.call('ZADD', KEYS[1], 'NX', 1, t) redis.call('ZADD', KEYS[1], \"XX\", 1, t)")
                == ["redis.call('ZADD', KEYS[1], 'XX', 1, t) redis.call('ZADD', KEYS[1], \"XX\", 1, t)",
                    "redis.call('ZADD', KEYS[1], 'NX', 1, t) redis.call('ZADD', KEYS[1], \"NX\", 1, t)"])
        #expect(Self.mutated(.swapMinMax, "x = math.max(a, math.min(b, c))") == ["x = math.min(a, math.min(b, c))", "x = math.max(a, math.max(b, c))"])
        #expect(Self.mutated(.flipGTLT, "redis.call('PEXPIREAT', k, t, 'GT') redis.call('ZADD', k, \"lt\", 1, m) x = 'GTX'")
                == ["redis.call('PEXPIREAT', k, t, 'LT') redis.call('ZADD', k, \"lt\", 1, m) x = 'GTX'",
                    "redis.call('PEXPIREAT', k, t, 'GT') redis.call('ZADD', k, \"gt\", 1, m) x = 'GTX'"])
    }

    @Test func swapKeysStaysWithinDeclaredKeys() {
        let lua = """
            -- KEYS[1] a
            -- KEYS[2] b
            -- KEYS[3] c
            redis.call('DEL', KEYS[1], KEYS[3])
            """
        #expect(Self.mutated(.swapKeys, lua) == ["redis.call('DEL', KEYS[2], KEYS[3])", "redis.call('DEL', KEYS[1], KEYS[2])"])
    }

    @Test func shiftNumberSkipsKeysAndParenthesisesAfterMinus() {
        #expect(Self.mutated(.shiftNumber, "x = KEYS[2] .. ARGV[1] .. (y - 0)")
                == ["x = KEYS[2] .. ARGV[2] .. (y - 0)", "x = KEYS[2] .. ARGV[0] .. (y - 0)",
                    "x = KEYS[2] .. ARGV[1] .. (y - 1)", "x = KEYS[2] .. ARGV[1] .. (y - (-1))"])
        // Hex and fractional literals are left alone.
        #expect(Self.mutated(.shiftNumber, "x = 0x10 + 1.5").isEmpty)
    }

    @Test func enumerationIsDeterministicAndNumbered() throws {
        let sources = try LockScripts(directory: LockScripts.defaultDirectory).scripts.mapValues(\.source)
        let first = MutationOperators.mutants(of: sources)
        let second = MutationOperators.mutants(of: sources)
        #expect(first == second)
        #expect(first.map(\.index) == Array(first.indices))
        #expect(first.count > 100)
        #expect(Set(first.map(\.source)).count == first.count, "duplicate mutants")
        // Every operator applies somewhere in the lock's scripts.
        #expect(Set(first.map(\.mutationOperator)) == Set(MutationOperator.allCases))
        // Headers are comments: no mutant touches the first line of a script.
        #expect(!first.contains { $0.line == 1 })
    }

    // MARK: Equivalent-mutants file

    @Test func equivalentMutantsFileParsesAndMatches() throws {
        let lua = "redis.call('DEL', KEYS[1])\n"
        let mutant = MutationOperators.mutants(of: Array(lua.utf8), operation: .withdraw, operators: [.dropCall])[0]
        let text = """
            # a comment

            \(EquivalentMutants.block(for: mutant, explanation: "first line"))
              continued here.

            file: withdraw.lua
            operator: drop-call
            original: something else
            mutated: local _ = nil
            why: stale
            """
        let list = try EquivalentMutants(parsing: text)
        #expect(list.entries.count == 2)
        #expect(list.explanation(for: mutant) == "first line continued here.")
        #expect(list.unmatched(by: [mutant]).map(\.key.original) == ["something else"])
        #expect(throws: SetupError.self) { try EquivalentMutants(parsing: "file: a.lua\noperator: drop-call\n") }
    }

    /// The committed list parses, and each of its entries still names a mutant.
    @Test func committedEquivalentMutantsAreCurrent() throws {
        let directory = LockScripts.defaultDirectory
        let sources = try LockScripts(directory: directory).scripts.mapValues(\.source)
        let list = try EquivalentMutants(directory: directory)
        let stale = list.unmatched(by: MutationOperators.mutants(of: sources))
        #expect(stale.isEmpty, "stale entries at lines \(stale.map(\.line))")
    }

    // MARK: The runner kills a weakened script

    @Test func weakenedAcquireReadIsKilled() async throws {
        let sources = try LockScripts(directory: LockScripts.defaultDirectory).scripts.mapValues(\.source)
        // acquire_read without its writer check: a reader can join a live writer.
        let source = sources[.acquireRead]!
        let writerCheck = Array("if writer_left > 0 then return {0, writer_left, 0} end".utf8)
        let start = try #require((0...(source.count - writerCheck.count)).first { Array(source[$0..<$0 + writerCheck.count]) == writerCheck })
        let mutant = try #require(Mutant.make(operation: .acquireRead, mutationOperator: .dropCall, source: source,
                                              edits: [SourceEdit(start..<start + writerCheck.count, "")]))
        #expect(mutant.mutated == "")
        let options = MutationOptions(seed: 1, runs: 10, depth: 3, threads: 1)
        let outcome = try await offThePool { MutationRunner.check(mutant, sources: sources, directory: "<test>", options: options) }
        #expect(outcome.killed)
        #expect(outcome.killedBy == "S2", "\(outcome.detail)")

        // The same through the parallel runner, with a clean baseline and one survivor-free run.
        let dropped = MutationOperators.mutants(of: sources[.acquireRead]!, operation: .acquireRead, operators: [.dropCall])
            .filter { $0.original.contains("ZADD', KEYS[3]") }
        let run = MutationRunner.run(sources: sources, directory: "<test>", mutants: [mutant] + dropped,
                                     options: MutationOptions(seed: 1, runs: 10, depth: 3, threads: 2))
        #expect(run.baseline.exitCode == 0)
        #expect(run.total == 2)
        #expect(run.killed == 2)
        #expect(MutationVerdict(run: run, equivalents: EquivalentMutants()).passed)
    }
}
