/// `redis.acl_check_cmd(command, arg...)`, Redis 7.0's way for a script to
/// ask whether its user may run a command, on those keys and channels,
/// without running it (script_lua.c `luaRedisAclCheckCmdPermissionsCommand`).
/// The lock's scripts ask it before their first write, so a missing
/// permission refuses the call before anything changes (R6).
extension ScriptEngine {
    /// True or false for `user`; raises, as Redis does, for no arguments, an
    /// argument that is neither string nor number, and a command (or a
    /// container's subcommand) Redis does not have. Redis checks no arity
    /// here: `acl_check_cmd('GET')` is true for a user who may run GET.
    func aclCheck(_ arguments: [LuaValue]) -> LuaReturn {
        guard !arguments.isEmpty else {
            return .raise(ScriptEngine.errorTable("Please specify at least one argument for this redis lib call"))
        }
        guard let argv = ScriptEngine.redisArguments(arguments) else {
            return .raise(ScriptEngine.errorTable("Lua redis lib command arguments must be strings or integers"))
        }
        aclQueries.append(argv)
        let command = commandNamed(argv[0]).command
        guard let info = command.info else { return .raise(ScriptEngine.invalidACLCheck) }
        // lookupCommand: a container's second argument names its subcommand.
        if argv.count > 1, let subcommands = command.subcommands, !subcommands.contains(argv[1].lowercasedASCII) {
            return .raise(ScriptEngine.invalidACLCheck)
        }
        return .values([.boolean(user.isUnrestricted || user.refusal(argv, name: command.name, info: info) == nil)])
    }

    static let invalidACLCheck = errorTable("Invalid command passed to redis.acl_check_cmd()")
}
