import SHA1Digest

/// A Lua script as Redis knows it: its body and the SHA1 that EVALSHA names.
public struct Script: Hashable, Sendable {
    /// The script's name for reports (usually its file name).
    public var name: String
    public var source: [UInt8]
    public var sha1: String

    public init(name: String, source: [UInt8]) {
        self.name = name
        self.source = source
        self.sha1 = SHA1.hex(source)
    }
}

/// Something a script did that real Redis would not show, or that a lock
/// script must never do. These are findings, never crashes.
public enum ScriptProblem: Hashable, Sendable, CustomStringConvertible {
    case compileError(String)
    case budgetExceeded(instructions: Int)
    case outOfMemory
    /// A command Redis has but the mock does not model.
    case unmodelledCommand(String)
    /// A command touched a key that was not passed in KEYS (S7).
    case undeclaredKey(command: String, key: String)

    public var description: String {
        switch self {
        case .compileError(let message): return "does not compile: \(message)"
        case .budgetExceeded(let budget): return "ran past the instruction budget of \(budget)"
        case .outOfMemory: return "ran out of memory"
        case .unmodelledCommand(let name): return "called '\(name)', which script-check does not model"
        case .undeclaredKey(let command, let key): return "\(command) touched key '\(key)', which is not in KEYS"
        }
    }
}

/// What one script execution returned and did.
public struct ScriptRun: Hashable, Sendable {
    /// The reply a client would receive, converted as Redis converts it.
    public var reply: RedisReply
    public var problems: [ScriptProblem]
    /// The commands the script ran, in order (argv, command name first).
    public var commands: [[[UInt8]]]
    /// What it asked `redis.acl_check_cmd`, in order (argv, command name
    /// first): with `commands`, every answer that depended on its user.
    public var aclQueries: [[[UInt8]]] = []
}

/// Redis 7.0's scripting engine over a mock Redis: EVAL semantics, reply
/// conversion both ways, error texts and global protection, run on the
/// embedded Lua 5.1.
///
/// Not thread-safe: one engine per thread. A state of the mock is swapped in
/// with `redis` before each run and read back after.
public final class ScriptEngine {
    /// The mock server the scripts run against.
    public var redis: MockRedis
    /// The most Lua VM instructions one script run may execute.
    public var instructionBudget: Int
    /// The ACL user scripts run as: `redis.call` refuses what it is denied
    /// with Redis's error, and `redis.acl_check_cmd` answers false for it.
    /// The explorer's run memo keys on the mock's state alone, so it
    /// serves only runs of the unrestricted user.
    public var user = RedisUser.unrestricted

    private let lua: LuaState
    private let handler: LuaFunction
    private let environment: LuaFunction
    private let globals: LuaFunction
    private var compiled: [String: Result<LuaFunction, LuaState.LoadError>] = [:]
    /// This run's KEYS, searched linearly: a script has a handful.
    private var currentKeys: [RedisKey] = []
    private var commandNames: [RedisKey: CommandName] = [:]
    private var problems: [ScriptProblem] = []
    private var commands: [[[UInt8]]] = []
    /// This run's `redis.acl_check_cmd` questions (see `ScriptRun.aclQueries`).
    var aclQueries: [[[UInt8]]] = []
    private var random = RedisRandom()
    /// How many times scripts have used `math.random` or `math.randomseed`:
    /// a run that did depends on more than the mock's state and its arguments.
    private(set) var randomDraws = 0

    /// - Parameters:
    ///   - redis: the initial mock state.
    ///   - instructionBudget: VM instructions one run may execute.
    ///   - memoryLimit: bytes the interpreter may hold.
    public convenience init(redis: MockRedis = MockRedis(), instructionBudget: Int = 5_000_000, memoryLimit: Int = 256 << 20) {
        self.init(redis: redis, instructionBudget: instructionBudget, memoryLimit: memoryLimit, libraries: BundledLibrary.all)
    }

    /// `libraries`: the C libraries to load (tests name one that is missing).
    init(redis: MockRedis, instructionBudget: Int, memoryLimit: Int, libraries: [BundledLibrary]) {
        self.redis = redis
        self.instructionBudget = instructionBudget
        let lua = LuaState(memoryLimit: memoryLimit)
        self.lua = lua
        lua.setGlobal("redis", to: .table(LuaTable()))
        // Registered before the prelude runs, which then makes `redis` and
        // `math` read-only.
        weak var engine: ScriptEngine?
        lua.register("redis.call") { engine?.call($0, raising: true) ?? .values([]) }
        lua.register("redis.pcall") { engine?.call($0, raising: false) ?? .values([]) }
        lua.register("redis.acl_check_cmd") { engine?.aclCheck($0) ?? .values([]) }
        lua.register("redis.sha1hex") { arguments in
            guard arguments.count == 1, let text = arguments[0].bytes else {
                return .raise(ScriptEngine.errorTable("wrong number of arguments"))
            }
            return .values([.string(SHA1.hex(text))])
        }
        lua.register("redis.error_reply") { arguments in
            guard arguments.count == 1, case .string(let bytes) = arguments[0] else {
                return .values([ScriptEngine.errorTable("wrong number or type of arguments")])
            }
            return .values([ScriptEngine.errorTable(bytes.first == 0x2D ? bytes : [0x2D] + bytes)])
        }
        lua.register("redis.status_reply") { arguments in
            guard arguments.count == 1, case .string = arguments[0] else {
                return .values([ScriptEngine.errorTable("wrong number or type of arguments")])
            }
            return .values([.table(LuaTable(fields: ["ok": arguments[0]]))])
        }
        lua.register("redis.log") { arguments in
            guard arguments.count >= 2 else { return .raise(ScriptEngine.errorTable("redis.log() requires two arguments or more.")) }
            guard case .number(let level) = arguments[0] else {
                return .raise(ScriptEngine.errorTable("First argument must be a number (log level)."))
            }
            guard (0...3).contains(Int(level)) else { return .raise(ScriptEngine.errorTable("Invalid debug level.")) }
            return .values([])
        }
        lua.register("redis.setresp") { arguments in
            guard arguments.count == 1 else { return .raise(ScriptEngine.errorTable("redis.setresp() requires one argument.")) }
            guard case .number(2) = arguments[0] else {
                // RESP3 is not modelled; Redis accepts 3, script-check refuses it loudly.
                return .raise(ScriptEngine.errorTable("RESP version must be 2 or 3."))
            }
            return .values([])
        }
        lua.register("redis.set_repl") { _ in .values([]) }
        lua.register("redis.replicate_commands") { _ in .values([.boolean(true)]) }
        // Outside a LDB debugging session Redis 7.0's redis.breakpoint()
        // returns false and redis.debug() returns nothing (fidelity suite finding).
        lua.register("redis.breakpoint") { _ in .values([.boolean(false)]) }
        lua.register("redis.debug") { _ in .values([]) }
        lua.register("math.random") { engine?.mathRandom($0) ?? .values([]) }
        lua.register("math.randomseed") { arguments in
            engine?.randomDraws += 1
            if case .number(let seed) = arguments.first { engine?.random.seed(Int32(truncatingIfNeeded: Int64(seed))) }
            return .values([])
        }
        // cjson and bit are the real C libraries Redis bundles, from Debian's
        // packages; when one is missing, scripts using it get an error naming
        // the package (the prelude reads why from this table).
        var unavailable = LuaTable()
        for library in libraries {
            if let reason = lua.openSharedLibrary(library.file, symbol: library.symbol, as: library.name) {
                unavailable.fields[library.name] = .string(Array("\(reason); install Debian's \(library.package)".utf8))
            }
        }
        lua.setGlobal("__scriptcheck_unavailable", to: .table(unavailable))
        do {
            let prelude = try lua.runSetup(Prelude.source, chunkName: Prelude.chunkName)
            handler = lua.field("handler", of: prelude)
            environment = lua.field("environment", of: prelude)
            globals = lua.field("globals", of: prelude)
        } catch {
            fatalError("script-check's own prelude failed to load: \(error)")
        }
        engine = self
    }

    /// Compiles `script` without running it: its bytecode, or the
    /// compiler's message.
    func compile(_ script: Script) -> Result<[UInt8], LuaState.LoadError> {
        lua.load(script.source, chunkName: "@" + script.name).map { lua.bytecode(of: $0) }
    }

    /// Bytes the embedded interpreter holds.
    public var interpreterBytes: Int { lua.bytesInUse }

    /// Runs `script` as `EVAL script numkeys KEYS... ARGV...` would, against
    /// `redis`, and returns the reply the client would see.
    public func eval(_ script: Script, keys: [[UInt8]], arguments: [[UInt8]]) -> ScriptRun {
        problems = []
        commands = []
        aclQueries = []
        currentKeys = keys.map(RedisKey.init)
        // Redis 7 does not reseed per script: the sequence runs on across calls,
        // so math.random is not reproducible and lint reports its use.
        let function: LuaFunction
        let loaded = compiled[script.sha1] ?? lua.load(script.source, chunkName: "@user_script")
        compiled[script.sha1] = loaded
        switch loaded {
        case .failure(let error):
            return ScriptRun(
                reply: .error(ScriptEngine.oneLine("ERR Error compiling script (new function): \(error.message)")),
                problems: [.compileError(error.message)], commands: [])
        case .success(let value):
            function = value
        }
        lua.rawSet("KEYS", to: .table(LuaTable(array: keys.map { .string($0) })), in: globals)
        lua.rawSet("ARGV", to: .table(LuaTable(array: arguments.map { .string($0) })), in: globals)
        let outcome = lua.call(function, handler: handler, instructionBudget: instructionBudget, environment: environment)
        let reply: RedisReply
        switch outcome {
        case .returned(let value):
            reply = ScriptEngine.reply(from: value)
        case .raised(let value):
            reply = ScriptEngine.uncaughtError(value, sha1: script.sha1)
        case .budgetExceeded:
            problems.append(.budgetExceeded(instructions: instructionBudget))
            reply = .error("ERR script-check stopped the script: it ran past the instruction budget of \(instructionBudget)")
        case .outOfMemory:
            problems.append(.outOfMemory)
            reply = .error("ERR script-check stopped the script: it ran out of memory")
        }
        return ScriptRun(reply: reply, problems: problems, commands: commands, aclQueries: aclQueries)
    }

    // MARK: redis.call

    private func call(_ arguments: [LuaValue], raising: Bool) -> LuaReturn {
        func fail(_ error: LuaValue) -> LuaReturn { raising ? .raise(error) : .values([error]) }
        guard !arguments.isEmpty else {
            return fail(ScriptEngine.errorTable("Please specify at least one argument for this redis lib call"))
        }
        guard let argv = ScriptEngine.redisArguments(arguments) else {
            return fail(ScriptEngine.errorTable("Lua redis lib command arguments must be strings or integers"))
        }
        commands.append(argv)
        let named = commandNamed(argv[0])
        let command = named.command
        if named.unmodelled {
            problems.append(.unmodelledCommand(command.name))
        }
        for position in MockRedis.keyPositions(argv.count, info: command.info) where !currentKeys.contains(RedisKey(argv[position])) {
            problems.append(.undeclaredKey(command: command.name, key: String(decoding: argv[position], as: UTF8.self)))
        }
        let reply = redis.execute(argv, command: command, user: user)
        if case .error(let text) = reply {
            var table = ScriptEngine.errorTable([0x2D] + Array(text.utf8))
            if case .table(var fields) = table {
                fields.fields["ignore_error_stats_update"] = .boolean(true)
                table = .table(fields)
            }
            return fail(table)
        }
        return .value(ScriptEngine.luaValue(from: reply))
    }

    /// A redis.call's arguments as Redis's `luaArgsToRedisArgv` makes them:
    /// strings as they are, numbers printed with %.17g; nil when one is
    /// neither.
    static func redisArguments(_ arguments: [LuaValue]) -> [[UInt8]]? {
        var argv: [[UInt8]] = []
        argv.reserveCapacity(arguments.count)
        for argument in arguments {
            switch argument {
            case .string(let bytes): argv.append(bytes)
            // Redis formats numbers with %.17g, not Lua's %.14g (script_lua.c).
            case .number(let number):
                // Integral values print the same under %.17g as in decimal; skip printf for them.
                // (-0 prints as "-0" under %.17g: the fidelity suite caught it.)
                if number == number.rounded(.towardZero), abs(number) < 1e15, !(number == 0 && number.sign == .minus) {
                    argv.append(Array(String(Int64(number)).utf8))
                } else {
                    argv.append(Array(formatG(number, precision: 17).utf8))
                }
            default: return nil
            }
        }
        return argv
    }

    /// What a command's name means, looked up once per spelling a script
    /// uses: scripts repeat the same few names millions of times.
    func commandNamed(_ bytes: [UInt8]) -> CommandName {
        if let known = commandNames[RedisKey(bytes)] { return known }
        let name = bytes.lowercasedASCII
        let command = CommandName(command: MockRedis.Command(name),
                                  unmodelled: !MockRedis.isSupported(name) && MockRedis.isKnownToRedis(name))
        if commandNames.count < 1024 { commandNames[RedisKey(bytes)] = command }
        return command
    }

    struct CommandName {
        var command: MockRedis.Command
        var unmodelled: Bool
    }

    private func mathRandom(_ arguments: [LuaValue]) -> LuaReturn {
        randomDraws += 1
        let r = Double(random.next() % Int32.max) / Double(Int32.max)
        func integer(_ value: LuaValue, _ position: Int) -> Int? {
            if case .number(let number) = value { return Int(Int32(truncatingIfNeeded: Int64(number))) }
            if case .string(let bytes) = value, let number = Double(String(decoding: bytes, as: UTF8.self)) {
                return Int(Int32(truncatingIfNeeded: Int64(number)))
            }
            return nil
        }
        switch arguments.count {
        case 0: return .values([.number(r)])
        case 1:
            guard let upper = integer(arguments[0], 1) else { return .raise(.string("bad argument #1 to 'random' (number expected)")) }
            guard upper >= 1 else { return .raise(.string("bad argument #1 to 'random' (interval is empty)")) }
            return .values([.number((r * Double(upper)).rounded(.down) + 1)])
        case 2:
            guard let lower = integer(arguments[0], 1), let upper = integer(arguments[1], 2) else {
                return .raise(.string("bad argument to 'random' (number expected)"))
            }
            guard lower <= upper else { return .raise(.string("bad argument #2 to 'random' (interval is empty)")) }
            return .values([.number((r * Double(upper - lower + 1)).rounded(.down) + Double(lower))])
        default:
            return .raise(.string("wrong number of arguments"))
        }
    }
}

extension LuaValue {
    /// The bytes of a string, or of a number as Lua would coerce it.
    var bytes: [UInt8]? {
        switch self {
        case .string(let bytes): return bytes
        case .number(let number): return Array(LuaValue.format(number).utf8)
        default: return nil
        }
    }
}

/// `redisLrand48`: the 48-bit linear congruential generator Redis uses for
/// `math.random`, so scripts draw the same numbers they draw on a server.
struct RedisRandom {
    private var state: UInt64 = 0x330E

    mutating func seed(_ value: Int32) {
        state = (UInt64(UInt32(bitPattern: value)) << 16 | 0x330E) & 0xFFFF_FFFF_FFFF
    }

    mutating func next() -> Int32 {
        state = (state &* 0x5_DEEC_E66D &+ 0xB) & 0xFFFF_FFFF_FFFF
        return Int32(truncatingIfNeeded: state >> 17)
    }
}
