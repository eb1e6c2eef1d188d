import Foundation
import Testing
@testable import ScriptCheck

/// The least-privilege check (R6): the lock's scripts pass it, and each
/// way a script can mishandle a missing permission is reported: failing
/// after a write, misreporting the refusal, or carrying on as if permitted.
@Suite struct LeastPrivilegeTests {
    static let good = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lua").path
    static let config = ExplorationConfig.exhaustiveDefault

    /// The lock's scripts with `operation`'s source edited by `edit`.
    static func scripts(editing operation: LockOperation, _ edit: (String) -> String) throws -> LockScripts {
        let good = try LockScripts(directory: Self.good)
        var sources = good.scripts.mapValues(\.source)
        let original = String(decoding: sources[operation]!, as: UTF8.self)
        let edited = edit(original)
        #expect(edited != original, "the edit must change \(operation.rawValue).lua")
        sources[operation] = Array(edited.utf8)
        return LockScripts(sources: sources)
    }

    static func check(_ scripts: LockScripts) -> (Violation?, LeastPrivilegeCoverage) {
        LeastPrivilege.check(scripts: scripts, engine: ScriptEngine(instructionBudget: 200_000), config: config)
    }

    @Test func theLocksScriptsPass() throws {
        let (violation, covered) = Self.check(try LockScripts(directory: Self.good))
        #expect(violation == nil, "\(violation.map(String.init(describing:)) ?? "")")
        #expect(covered.states == LeastPrivilege.lockStates(Self.config).count)
        #expect(covered.calls > 50 && covered.deniedRuns > covered.calls && covered.provenUnchanged > 0)
        // The lock's scripts refuse every permission their calls need.
        #expect(covered.refusals == covered.deniedRuns)
    }

    @Test func aMissingPermissionIsRefusedBeforeTheFirstWrite() throws {
        let scripts = try LockScripts(directory: Self.good)
        let engine = ScriptEngine()
        let holding = LeastPrivilege.lockStates(Self.config).first { $0.name == "a live capped write lease" }!
        let before = LeastPrivilege.build(holding, scripts: scripts, engine: engine, config: Self.config)
        engine.redis = before
        engine.user = RedisUser(denying: .channel(World.keys[6]))
        let run = engine.eval(scripts[.release], keys: World.keys, arguments: [Array("holder".utf8)])
        #expect(run.reply == .error("RWLOCK NOPERM the lock's Redis user may not run PUBLISH on rwlock:{lock}:channel; grant the rules rwlock acl prints"))
        #expect(engine.redis == before)
        #expect(!run.commands.contains { $0[0] == Array("DEL".utf8) })
    }

    @Test func aScriptThatFailsAfterItsFirstWriteIsFound() throws {
        let scripts = try Self.scripts(editing: .release) {
            $0.replacingOccurrences(of: "    local problem = denied('PUBLISH', KEYS[7])\n    if problem then return problem end\n", with: "")
        }
        let violation = try #require(Self.check(scripts).0)
        #expect(violation.invariant == "R6")
        #expect(violation.message.contains("PUBLISH denied") || violation.message.contains("channel rwlock:{lock}:channel denied"))
        #expect(violation.message.contains("failed after its first write"))
        #expect(violation.message.contains("deleted rwlock:{lock}:writer"))
    }

    @Test func aCheckOnTheWrongKeyIsFound() throws {
        // Asks about the caps key where the reader's ZREM is on the readers key.
        let scripts = try Self.scripts(editing: .release) {
            $0.replacingOccurrences(of: "denied('ZREM', KEYS[2])", with: "denied('ZREM', KEYS[3])")
        }
        let violation = try #require(Self.check(scripts).0)
        #expect(violation.invariant == "R6")
        #expect(violation.message.contains("ZREM denied on rwlock:{lock}:readers"))
    }

    @Test func aRefusalMisreportedAsAWrongTypeIsFound() throws {
        // The pcall type check of main before R6: any error reads as a wrong type.
        let scripts = try Self.scripts(editing: .release) {
            $0.replacingOccurrences(of: "return wrong(1, 'hash', holder)", with: "return wrong(1, 'hash')")
        }
        let violation = try #require(Self.check(scripts).0)
        #expect(violation.invariant == "R6")
        #expect(violation.message.contains("HGET denied"))
        #expect(violation.message.contains("RWLOCK key rwlock:{lock}:writer holds a hash, not a hash"))
    }

    @Test func aRefusalSwallowedIntoAnotherOutcomeIsFound() throws {
        // A denied HGET read as "no holder": the holder's release reports 0.
        let scripts = try Self.scripts(editing: .release) {
            $0.replacingOccurrences(of: "if type(holder) == 'table' then return wrong(1, 'hash', holder) end",
                                    with: "if type(holder) == 'table' then holder = false end")
        }
        let violation = try #require(Self.check(scripts).0)
        #expect(violation.invariant == "R6")
        #expect(violation.message.contains("a refused command must fail the call"))
    }

    @Test func withoutAclCheckCmdTheScriptsRunAsBefore() throws {
        // Redis before 7.0 has no redis.acl_check_cmd: every script skips its
        // questions and, for a user with every permission, does what it does
        // on 7.0 in every state of the check.
        let good = try LockScripts(directory: Self.good)
        let old = LockScripts(sources: good.scripts.mapValues {
            Array(String(decoding: $0.source, as: UTF8.self)
                .replacingOccurrences(of: "redis.acl_check_cmd", with: "redis.acl_check_cmd_before_7_0").utf8)
        })
        let engine = ScriptEngine()
        var compared = 0, asking = 0
        for state in LeastPrivilege.lockStates(Self.config) {
            let before = LeastPrivilege.build(state, scripts: good, engine: engine, config: Self.config)
            for operation in LockOperation.allCases {
                for token in LeastPrivilege.tokens(for: operation, on: state) {
                    let arguments = World.arguments(operation, token: token, spec: LeastPrivilege.spec(for: operation), config: Self.config)
                    engine.redis = before
                    let now = engine.eval(good[operation], keys: World.keys, arguments: arguments)
                    let after = engine.redis
                    engine.redis = before
                    let then = engine.eval(old[operation], keys: World.keys, arguments: arguments)
                    #expect(then.reply == now.reply && engine.redis == after, "\(operation.rawValue)(\(token)) on \(state.name)")
                    #expect(then.aclQueries.isEmpty)
                    compared += 1
                    if !now.aclQueries.isEmpty { asking += 1 }
                }
            }
        }
        #expect(compared > 50 && asking > compared / 2)
    }

    @Test func keyLevelDenialsAreTriedWhereACommandUsesSeveralKeys() {
        let asked = [["ZADD", "a", "1", "m"], ["ZADD", "b", "1", "m"], ["GET", "c"], ["TIME"]]
            .map { LeastPrivilege.Query($0.map { Array($0.utf8) }) }
        let denials = LeastPrivilege.denials(named: ["get", "time", "zadd"], asked: asked)
        #expect(denials == [.command("get"), .command("time"), .command("zadd"),
                            .commandOnKey("zadd", key: Array("a".utf8)), .commandOnKey("zadd", key: Array("b".utf8)),
                            .channel(World.keys[6])])
    }

    @Test func aNopermErrorMustNameWhatWasDenied() {
        let text = "RWLOCK NOPERM the lock's Redis user may not run ZADD on rwlock:{lock}:readers; grant the rules rwlock acl prints"
        #expect(LeastPrivilege.names(.command("zadd"), in: text))
        #expect(LeastPrivilege.names(.commandOnKey("zadd", key: Array("rwlock:{lock}:readers".utf8)), in: text))
        #expect(!LeastPrivilege.names(.commandOnKey("zadd", key: Array("rwlock:{lock}:caps".utf8)), in: text))
        #expect(!LeastPrivilege.names(.command("pexpireat"), in: text))
        #expect(!LeastPrivilege.names(.channel(World.keys[6]), in: text))
    }

    @Test func theReportCountsWhatItChecked() throws {
        let report = Checker.run(try LockScripts(directory: Self.good), options: CheckOptions(seed: 1, runs: 0, depth: 1))
        #expect(report.counterexample == nil)
        #expect(report.leastPrivilege.deniedRuns > 0)
        #expect(report.text().contains("least privilege: \(report.leastPrivilege.calls) calls on \(report.leastPrivilege.states) lock states"))
        #expect(report.json().contains("\"least_privilege\""))
    }
}
