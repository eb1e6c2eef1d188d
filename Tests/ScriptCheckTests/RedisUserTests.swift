import Testing
@testable import ScriptCheck

/// The mock's ACL user: what a script meets when its Redis user lacks a
/// permission, in `redis.call`, `redis.pcall` and `redis.acl_check_cmd`.
/// Error texts and answers are Redis 7.0.15's (script.c `scriptVerifyACL`,
/// script_lua.c `luaRedisAclCheckCmdPermissionsCommand`), taken from a
/// server as a user with the matching rules; `Fidelity.ACLUsers` compares
/// them with a live server.
@Suite struct RedisUserTests {
    static let commandRefused = "ERR The user executing the script can't run this command or subcommand"
    static let keyRefused = "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
    static let channelRefused = "ERR The user executing the script can't publish to the channel mentioned in the command"

    /// Runs `source` with KEYS `k` and `other` as `user`.
    static func run(_ source: String, as user: RedisUser = .unrestricted, engine: ScriptEngine = ScriptEngine()) -> ScriptRun {
        engine.user = user
        return engine.eval(Script(name: "acl.lua", source: Array(source.utf8)),
                           keys: [Array("k".utf8), Array("other".utf8)], arguments: [])
    }

    static func sha(_ source: String) -> String { Script(name: "acl.lua", source: Array(source.utf8)).sha1 }

    static let zaddDenied = RedisUser(denying: .command("zadd"))

    // MARK: redis.call and redis.pcall

    @Test func aDeniedCommandRaisesRedisRefusalAndChangesNothing() {
        let source = "redis.call('SET', KEYS[2], 'v')\nreturn redis.call('ZADD', KEYS[1], 1, 'm')"
        let run = Self.run(source, as: Self.zaddDenied)
        #expect(run.reply == .error(Self.commandRefused + " script: \(Self.sha(source)), on @user_script:2."))
        // SET ran (a script is not a transaction); ZADD did not.
        #expect(run.commands.count == 2)
    }

    @Test func pcallReturnsTheRefusalAsAnErrorTable() {
        let run = Self.run("local r = redis.pcall('ZADD', KEYS[1], 1, 'm')\nreturn {type(r), r.err}", as: Self.zaddDenied)
        #expect(run.reply == .array([.bulk("table"), .bulk(Array(Self.commandRefused.utf8))]))
    }

    @Test func arityAndNoscriptAreCheckedBeforeTheUser() {
        // scriptCall(): arity, then the noscript flag, then the ACL.
        #expect(Self.run("return redis.pcall('ZADD', KEYS[1])", as: Self.zaddDenied).reply
                == .error("ERR Wrong number of args calling Redis command from script"))
        #expect(Self.run("return redis.pcall('SUBSCRIBE', 'c')", as: RedisUser(denying: .channel(Array("c".utf8)))).reply
                == .error("ERR This Redis command is not allowed from script"))
    }

    @Test func aCommandDeniedOnOneKeyIsRefusedThereOnly() {
        let user = RedisUser(denying: .commandOnKey("zadd", key: Array("k".utf8)))
        #expect(Self.run("return redis.pcall('ZADD', KEYS[1], 1, 'm')", as: user).reply == .error(Self.keyRefused))
        #expect(Self.run("return redis.pcall('ZADD', KEYS[2], 1, 'm')", as: user).reply == .integer(1))
        #expect(Self.run("return redis.pcall('GET', KEYS[1])", as: user).reply == .null)
    }

    @Test func aKeyOutsideTheUsersPatternsIsRefusedToEveryCommand() {
        let user = RedisUser(denying: .key(Array("k".utf8)))
        #expect(Self.run("return redis.pcall('GET', KEYS[1])", as: user).reply == .error(Self.keyRefused))
        #expect(Self.run("return redis.pcall('DEL', KEYS[2], KEYS[1])", as: user).reply == .error(Self.keyRefused))
        #expect(Self.run("return redis.pcall('DEL', KEYS[2])", as: user).reply == .integer(0))
    }

    @Test func aDeniedChannelIsRefusedToPublishOnlyThere() {
        let user = RedisUser(denying: .channel(Array("k".utf8)))
        let engine = ScriptEngine()
        #expect(Self.run("return redis.pcall('PUBLISH', KEYS[1], 'm')", as: user, engine: engine).reply == .error(Self.channelRefused))
        #expect(engine.redis.published.isEmpty)
        #expect(Self.run("return redis.pcall('PUBLISH', KEYS[2], 'm')", as: user, engine: engine).reply == .integer(0))
        #expect(engine.redis.published.count == 1)
    }

    @Test func theCommandIsReportedBeforeItsKeysAndChannels() {
        // One selector's order (acl.c ACLSelectorCheckCmd): command, keys, channels.
        let user = RedisUser(denials: [.channel(Array("k".utf8)), .command("publish")])
        #expect(Self.run("return redis.pcall('PUBLISH', KEYS[1], 'm')", as: user).reply == .error(Self.commandRefused))
        let keyAndCommand = RedisUser(denials: [.key(Array("k".utf8)), .command("get")])
        #expect(Self.run("return redis.pcall('GET', KEYS[1])", as: keyAndCommand).reply == .error(Self.commandRefused))
    }

    // MARK: redis.acl_check_cmd

    @Test func aclCheckAnswersTrueForEveryPermission() {
        let run = Self.run("""
            return {redis.acl_check_cmd('GET', KEYS[1]), redis.acl_check_cmd('zadd', KEYS[1], 1, 'm'),
                    redis.acl_check_cmd('PUBLISH', 'c', 'm'), redis.acl_check_cmd('config'),
                    redis.acl_check_cmd('CONFIG', 'GET', 'x'), redis.acl_check_cmd('get', 1.5),
                    redis.acl_check_cmd('MULTI')}
            """)
        #expect(run.reply == .array(Array(repeating: .integer(1), count: 7)))
        #expect(run.commands.isEmpty, "acl_check_cmd runs nothing")
        #expect(run.aclQueries.count == 7)
    }

    @Test func aclCheckChecksNoArity() {
        // Redis 7.0 looks the command up and checks the user; arity is
        // redis.call's business (verified on 7.0.15: acl_check_cmd('get') is true).
        #expect(Self.run("return {redis.acl_check_cmd('GET'), redis.acl_check_cmd('get', 'a', 'b', 'c')}").reply
                == .array([.integer(1), .integer(1)]))
        // A denied command is false whatever the argument count.
        #expect(Self.run("return redis.acl_check_cmd('ZADD')", as: Self.zaddDenied).reply == .null)
    }

    @Test func aclCheckAnswersFalseForWhatTheUserLacks() {
        let source = "return {redis.acl_check_cmd('ZADD', KEYS[1]) == false, redis.acl_check_cmd('ZADD', KEYS[2]) == false, redis.acl_check_cmd('GET', KEYS[1]) == false}"
        #expect(Self.run(source, as: Self.zaddDenied).reply == .array([.integer(1), .integer(1), .null]))
        let onKey = RedisUser(denying: .commandOnKey("zadd", key: Array("k".utf8)))
        #expect(Self.run(source, as: onKey).reply == .array([.integer(1), .null, .null]))
        let channel = RedisUser(denying: .channel(Array("c".utf8)))
        #expect(Self.run("return {redis.acl_check_cmd('PUBLISH', 'c', 'm') == false, redis.acl_check_cmd('PUBLISH', 'd', 'm') == false, redis.acl_check_cmd('PUBLISH', 'c') == false}", as: channel).reply
                == .array([.integer(1), .null, .integer(1)]))
    }

    @Test func aclCheckRaisesRedisErrors() {
        func raised(_ call: String) -> RedisReply {
            let source = "return \(call)"
            return Self.run(source).reply
        }
        func expected(_ message: String, _ call: String) -> RedisReply {
            .error("ERR \(message) script: \(Self.sha("return \(call)")), on @user_script:1.")
        }
        for call in ["redis.acl_check_cmd('nosuch')", "redis.acl_check_cmd('config', 'nosuch')", "redis.acl_check_cmd(1)"] {
            #expect(raised(call) == expected("Invalid command passed to redis.acl_check_cmd()", call))
        }
        #expect(raised("redis.acl_check_cmd()") == expected("Please specify at least one argument for this redis lib call", "redis.acl_check_cmd()"))
        #expect(raised("redis.acl_check_cmd('get', {})") == expected("Lua redis lib command arguments must be strings or integers", "redis.acl_check_cmd('get', {})"))
        // Caught, the error reads as its message (Redis 7's pcall).
        #expect(Self.run("return {pcall(redis.acl_check_cmd, 'nosuch')}").reply
                == .array([.null, .bulk("ERR Invalid command passed to redis.acl_check_cmd()")]))
    }

    @Test func anUnrestrictedUserIsTheDefault() {
        #expect(ScriptEngine().user == .unrestricted)
        #expect(RedisUser.unrestricted.isUnrestricted)
        #expect(!Self.zaddDenied.isUnrestricted)
        #expect(Self.zaddDenied.description == "ZADD denied")
    }
}
