import CLua

/// What a Swift function exposed to Lua hands back to the interpreter.
enum LuaReturn {
    /// Return these values to the caller.
    case values([LuaValue])
    /// Return this one value: `redis.call`'s case, without an array.
    case value(LuaValue)
    /// Raise this value as a Lua error. The C trampoline raises it, so the
    /// `longjmp` never crosses a Swift frame.
    case raise(LuaValue)
}

/// How one protected call ended.
enum LuaOutcome: Hashable, Sendable {
    /// The function returned; its first result (or nil).
    case returned(LuaValue)
    /// It raised; the error value after the error handler ran.
    case raised(LuaValue)
    /// It ran past its instruction budget and was stopped.
    case budgetExceeded
    /// It tried to allocate past the state's memory cap.
    case outOfMemory
}

/// A compiled chunk kept alive in the registry, callable many times.
struct LuaFunction: Hashable, Sendable {
    fileprivate let reference: Int32
}

/// The embedded Lua 5.1 interpreter. This file owns every call into the Lua C
/// API and every pointer into the Lua state; nothing else in ScriptCheck
/// touches C.
///
/// Every call runs under `lua_pcall`. Swift functions callable from Lua never
/// raise themselves: they return `LuaReturn.raise` and the C trampoline
/// (`clua_trampoline`) raises, so Lua's `longjmp` unwinds only C and Lua frames.
final class LuaState {
    typealias SwiftFunction = ([LuaValue]) -> LuaReturn

    private let state: OpaquePointer
    private let limits: UnsafeMutablePointer<clua_limits>
    /// The memory cap, enforced only while script code runs: outside it (in
    /// Swift frames) an allocation failure would raise through Swift.
    private let memoryLimit: Int
    private var functions: [SwiftFunction] = []
    /// The deepest table nesting copied across the boundary; deeper parts are
    /// cut, as a guard against cyclic tables.
    private let maximumDepth = 200

    /// Opens a fresh state with Lua's standard libraries.
    /// - Parameter memoryLimit: the most bytes the state may allocate.
    init(memoryLimit: Int = 256 << 20) {
        self.memoryLimit = memoryLimit
        limits = .allocate(capacity: 1)
        limits.initialize(to: clua_limits(
            instructions_left: Int.max, budget_exceeded: 0,
            bytes_used: 0, bytes_limit: 0, memory_exceeded: 0))
        guard let opened = clua_newstate(limits) else {
            fatalError("lua_newstate failed: the allocator refused the initial state")
        }
        state = opened
        luaL_openlibs(state)
        clua_install_limits(state, limits)
    }

    deinit {
        lua_close(state)
        limits.deinitialize(count: 1)
        limits.deallocate()
    }

    /// Bytes the interpreter holds right now.
    var bytesInUse: Int { limits.pointee.bytes_used }

    // MARK: Loading and calling

    /// Compiles `source` under `chunkName` (shown in errors and tracebacks,
    /// e.g. `@user_script` prints as `user_script:3:`).
    /// - Returns: the function, or the compiler's message.
    func load(_ source: [UInt8], chunkName: String) -> Result<LuaFunction, LoadError> {
        let status = source.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                luaL_loadbuffer(state, chars.baseAddress, chars.count, chunkName)
            }
        }
        guard status == 0 else {
            let message = value(at: -1, depth: 0, on: state).text ?? "unknown compile error"
            clua_pop(state, 1)
            return .failure(LoadError(message: message))
        }
        return .success(LuaFunction(reference: luaL_ref(state, clua_registryindex())))
    }

    struct LoadError: Error, Hashable { let message: String }

    /// Calls `function` with no arguments under `lua_pcall`.
    /// - Parameters:
    ///   - handler: an error handler (a Lua function) that rewrites the error
    ///     value, as Redis's `__redis__err__handler` does.
    ///   - instructionBudget: the most VM instructions the call may run.
    ///   - environment: a table to install as the function's environment.
    func call(_ function: LuaFunction, handler: LuaFunction?, instructionBudget: Int,
              environment: LuaFunction? = nil) -> LuaOutcome {
        let base = lua_gettop(state)
        defer { lua_settop(state, base) }
        var handlerIndex: Int32 = 0
        if let handler {
            lua_rawgeti(state, clua_registryindex(), handler.reference)
            handlerIndex = lua_gettop(state)
        }
        lua_rawgeti(state, clua_registryindex(), function.reference)
        if let environment {
            lua_rawgeti(state, clua_registryindex(), environment.reference)
            lua_setfenv(state, -2)
        }
        limits.pointee.instructions_left = instructionBudget
        limits.pointee.budget_exceeded = 0
        clua_reset_hook(state)
        limits.pointee.memory_exceeded = 0
        limits.pointee.bytes_limit = memoryLimit
        let status = lua_pcall(state, 0, 1, handlerIndex)
        limits.pointee.bytes_limit = 0
        if limits.pointee.budget_exceeded != 0 { return .budgetExceeded }
        if status == LUA_ERRMEM || limits.pointee.memory_exceeded != 0 { return .outOfMemory }
        let result = value(at: -1, depth: 0, on: state)
        return status == 0 ? .returned(result) : .raised(result)
    }

    /// Runs trusted setup code (the scripting environment's prelude) and
    /// returns its result kept in the registry, e.g. a table of helpers.
    func runSetup(_ source: String, chunkName: String) throws -> LuaFunction {
        let function = try load(Array(source.utf8), chunkName: chunkName).get()
        let base = lua_gettop(state)
        defer { lua_settop(state, base) }
        lua_rawgeti(state, clua_registryindex(), function.reference)
        guard lua_pcall(state, 0, 1, 0) == 0 else {
            throw LoadError(message: value(at: -1, depth: 0, on: state).text ?? "setup failed")
        }
        return LuaFunction(reference: luaL_ref(state, clua_registryindex()))
    }

    /// Reads field `name` of a table kept in the registry, keeping it as a
    /// callable reference (used to fetch functions a setup chunk returned).
    func field(_ name: String, of table: LuaFunction) -> LuaFunction {
        lua_rawgeti(state, clua_registryindex(), table.reference)
        lua_getfield(state, -1, name)
        let reference = luaL_ref(state, clua_registryindex())
        clua_pop(state, 1)
        return LuaFunction(reference: reference)
    }

    /// The precompiled bytecode of `function` (`lua_dump`), for static
    /// analysis of what it reads and writes.
    func bytecode(of function: LuaFunction) -> [UInt8] {
        let sink = ByteSink()
        lua_rawgeti(state, clua_registryindex(), function.reference)
        _ = lua_dump(state, { _, bytes, count, context in
            guard let bytes, let context else { return 0 }
            let sink = Unmanaged<ByteSink>.fromOpaque(context).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: count))
            return 0
        }, Unmanaged.passUnretained(sink).toOpaque())
        clua_pop(state, 1)
        return sink.bytes
    }

    private final class ByteSink { var bytes: [UInt8] = [] }

    // MARK: Globals and Swift functions

    /// Sets `name` in `table` (a registry reference) without metamethods, so a
    /// protected environment can still be written by the host.
    func rawSet(_ name: String, to value: LuaValue, in table: LuaFunction) {
        lua_rawgeti(state, clua_registryindex(), table.reference)
        push(value, depth: 0, on: state)
        lua_setfield(state, -2, name)   // plain table: no metamethods on the real globals
        clua_pop(state, 1)
    }

    /// Sets a global of the state's own (unprotected) globals table.
    func setGlobal(_ name: String, to value: LuaValue) {
        push(value, depth: 0, on: state)
        clua_setglobal(state, name)
    }

    /// Loads a C library from a shared object (`clua_open_shared_library`)
    /// and makes its table the global `name`. Returns nil, or why not.
    func openSharedLibrary(_ file: String, symbol: String, as name: String) -> String? {
        let base = lua_gettop(state)
        defer { lua_settop(state, base) }
        guard clua_open_shared_library(state, file, symbol) == 1 else {
            return value(at: -1, depth: 0, on: state).text ?? "it could not be opened"
        }
        clua_setglobal(state, name)
        return nil
    }

    /// Makes `function` callable from Lua as the global `name` (a dotted
    /// `table.field` name sets a field of an existing global table).
    func register(_ name: String, _ function: @escaping SwiftFunction) {
        functions.append(function)
        let id = Int32(functions.count - 1)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2 {
            clua_getglobal(state, parts[0])
            clua_push_swift_function(state, swiftEntry, context, id)
            lua_setfield(state, -2, parts[1])
            clua_pop(state, 1)
        } else {
            clua_push_swift_function(state, swiftEntry, context, id)
            clua_setglobal(state, name)
        }
    }

    fileprivate func dispatch(_ lua: OpaquePointer, _ id: Int32) -> Int32 {
        // No allocation may fail while Swift frames are on the stack.
        let savedLimit = limits.pointee.bytes_limit
        limits.pointee.bytes_limit = 0
        defer { limits.pointee.bytes_limit = savedLimit }
        let count = lua_gettop(lua)
        var arguments: [LuaValue] = []
        arguments.reserveCapacity(Int(count))
        var index: Int32 = 1
        while index <= count {
            arguments.append(value(at: index, depth: 0, on: lua))
            index += 1
        }
        switch functions[Int(id)](arguments) {
        case .values(let results):
            guard lua_checkstack(lua, Int32(results.count) + 2) != 0 else {
                push(.string("too many results to return"), depth: 0, on: lua)
                return -1
            }
            for result in results { push(result, depth: 0, on: lua) }
            return Int32(results.count)
        case .value(let result):
            guard lua_checkstack(lua, 2) != 0 else {
                push(.string("too many results to return"), depth: 0, on: lua)
                return -1
            }
            push(result, depth: 0, on: lua)
            return 1
        case .raise(let error):
            push(error, depth: 0, on: lua)
            return -1
        }
    }

    // MARK: Conversion

    private func value(at index: Int32, depth: Int, on lua: OpaquePointer) -> LuaValue {
        switch lua_type(lua, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(lua, index) != 0)
        case LUA_TNUMBER: return .number(lua_tonumber(lua, index))
        case LUA_TSTRING:
            var length = 0
            guard let chars = lua_tolstring(lua, index, &length) else { return .nil }
            return .string(chars.withMemoryRebound(to: UInt8.self, capacity: length) {
                Array(UnsafeBufferPointer(start: $0, count: length))
            })
        case LUA_TTABLE:
            guard depth < maximumDepth, lua_checkstack(lua, 4) != 0 else { return .opaque(typeName: "table") }
            let absolute = index < 0 ? lua_gettop(lua) + index + 1 : index
            var table = LuaTable()
            var position: Int32 = 1
            while true {
                lua_rawgeti(lua, absolute, position)
                if lua_type(lua, -1) == LUA_TNIL { clua_pop(lua, 1); break }
                table.array.append(value(at: -1, depth: depth + 1, on: lua))
                clua_pop(lua, 1)
                position += 1
            }
            for name in LuaTable.inspectedFields {
                lua_pushstring(lua, name)
                lua_rawget(lua, absolute)
                if lua_type(lua, -1) != LUA_TNIL { table.fields[name] = value(at: -1, depth: depth + 1, on: lua) }
                clua_pop(lua, 1)
            }
            return .table(table)
        default:
            return .opaque(typeName: String(cString: lua_typename(lua, lua_type(lua, index))))
        }
    }

    private func push(_ value: LuaValue, depth: Int, on lua: OpaquePointer) {
        switch value {
        case .nil, .opaque: lua_pushnil(lua)
        case .boolean(let flag): lua_pushboolean(lua, flag ? 1 : 0)
        case .number(let number): lua_pushnumber(lua, number)
        case .string(let bytes):
            bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(lua, $0.baseAddress, $0.count) }
            }
        case .table(let table):
            guard depth < maximumDepth, lua_checkstack(lua, 4) != 0 else { lua_pushnil(lua); return }
            lua_createtable(lua, Int32(table.array.count), Int32(table.fields.count))
            for (offset, element) in table.array.enumerated() {
                push(element, depth: depth + 1, on: lua)
                lua_rawseti(lua, -2, Int32(offset + 1))
            }
            // Sorted so a table is built the same way every time; the
            // usual one field ({ok=…}, {err=…}) needs no sort.
            if table.fields.count == 1, let (name, element) = table.fields.first {
                push(element, depth: depth + 1, on: lua)
                lua_setfield(lua, -2, name)
            } else {
                for (name, element) in table.fields.sorted(by: { $0.key < $1.key }) {
                    push(element, depth: depth + 1, on: lua)
                    lua_setfield(lua, -2, name)
                }
            }
        }
    }
}

/// The one C entry point for every Swift function: the trampoline passes the
/// owning `LuaState` as `context`; a negative return asks the trampoline to
/// raise the value on top of the stack.
private let swiftEntry: clua_swift_function = { lua, context, id in
    guard let lua, let context else { return 0 }
    return Unmanaged<LuaState>.fromOpaque(context).takeUnretainedValue().dispatch(lua, id)
}
