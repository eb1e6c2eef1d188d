/// Lua code that turns a plain Lua 5.1 state into Redis 7.0's scripting
/// environment. It runs once per state, before any user script, and returns
/// the pieces the host needs: the error handler, the protected environment
/// user scripts run in, and the real globals table (where the host sets
/// KEYS and ARGV).
///
/// Redis enforces read-only globals with a patched Lua VM; stock Lua cannot,
/// so user scripts run with a proxy environment whose metamethods raise the
/// same messages. The error handler skips frames of this prelude (chunk
/// name `=scriptcheck`) as Redis's skips C frames, so positions in error
/// messages name the user's line, as Redis's do.
enum Prelude {
    static let chunkName = "=scriptcheck"

    static let source = #"""
    local real = _G
    local getinfo = debug.getinfo
    local raw_pcall, raw_rawset, raw_type, raw_tostring = pcall, rawset, type, tostring
    local raw_setmetatable, raw_rawget, raw_error, raw_select, raw_unpack = setmetatable, rawget, error, select, unpack
    local raw_setfenv, raw_loadstring, raw_load = setfenv, loadstring, load

    -- What Redis 7.0 leaves out of the scripting globals.
    for _, name in ipairs({'print', 'dofile', 'loadfile', 'require', 'module', 'setfenv',
                           'getfenv', 'newproxy', 'io', 'os', 'debug', 'package'}) do
      real[name] = nil
    end

    -- Redis's error handler (eval.c), made blind to this prelude's frames.
    -- Redis looks at level 2 and, if that is a C function, at level 3 only
    -- (so `table.foreach(t, error)` reports "=[C]:-1"; fidelity suite
    -- finding). The prelude's own frames, and the C functions they call
    -- (raw_error...), stand in for single C functions or VM checks in Redis,
    -- so they are dropped before that rule is applied.
    local function error_handler(err)
      local frames, level = {}, 2
      local f = getinfo(level, 'nSl')
      while f do
        local caller = getinfo(level + 1, 'S')
        local called_by_prelude = f.what == 'C' and caller and caller.source == '=scriptcheck'
        if f.source ~= '=scriptcheck' and not called_by_prelude then frames[#frames + 1] = f end
        level = level + 1
        f = getinfo(level, 'nSl')
      end
      local i = frames[1]
      if i and i.what == 'C' then i = frames[2] end
      if raw_type(err) ~= 'table' then
        err = {err = 'ERR ' .. raw_tostring(err)}
      end
      if i then
        err['source'] = i.source
        err['line'] = i.currentline
      end
      return err
    end

    -- Redis 7 replaces pcall so a redis.call error caught by a script reads as
    -- its message (a string), as it did before Redis 7 (script_lua.c).
    real.pcall = function(f, ...)
      local results = {raw_pcall(f, ...)}
      if not results[1] then
        local e = results[2]
        if raw_type(e) == 'table' then
          local message = raw_rawget(e, 'err')
          if raw_type(message) == 'string' or raw_type(message) == 'number' then
            return false, message
          end
        end
        return false, e
      end
      return raw_unpack(results, 1, table.maxn(results))
    end

    local protected = {}
    local function readonly(target, missing)
      local proxy = {}
      raw_setmetatable(proxy, {
        __index = missing and function(_, key)
          local value = raw_rawget(target, key)
          if value == nil then
            raw_error("Script attempted to access nonexistent global variable '" .. raw_tostring(key) .. "'", 2)
          end
          return value
        end or target,
        __newindex = function() raw_error('Attempt to modify a readonly table', 2) end,
        __metatable = false,
      })
      protected[proxy] = true
      return proxy
    end

    real.rawset = function(t, k, v)
      if protected[t] then raw_error('Attempt to modify a readonly table', 0) end
      return raw_rawset(t, k, v)
    end

    real.redis.LOG_DEBUG, real.redis.LOG_VERBOSE, real.redis.LOG_NOTICE, real.redis.LOG_WARNING = 0, 1, 2, 3
    real.redis.REPL_NONE, real.redis.REPL_AOF, real.redis.REPL_SLAVE, real.redis.REPL_REPLICA, real.redis.REPL_ALL = 0, 1, 2, 2, 3
    real.redis.REDIS_VERSION, real.redis.REDIS_VERSION_NUM = '7.0.15', 0x0007000f

    -- Libraries Redis loads that script-check does not model, or (cjson, bit)
    -- could not load from their Debian packages: using one is a clear
    -- failure, never a silent success.
    local function refusing(name, why)
      return raw_setmetatable({}, {__index = function(_, key)
        raw_error(why .. ' (' .. name .. '.' .. raw_tostring(key) .. ')', 2)
      end})
    end
    for _, name in ipairs({'struct', 'cmsgpack'}) do
      real[name] = refusing(name, "script-check does not model the '" .. name .. "' library")
    end
    for name, reason in pairs(real.__scriptcheck_unavailable) do
      real[name] = refusing(name, "script-check could not load the '" .. name .. "' library: " .. reason)
    end
    real.__scriptcheck_unavailable = nil

    for _, name in ipairs({'string', 'table', 'math', 'coroutine', 'redis', 'cjson', 'struct', 'cmsgpack', 'bit'}) do
      real[name] = readonly(real[name], false)
    end
    local environment = readonly(real, true)
    real._G = environment

    -- A chunk from loadstring/load runs with the thread's globals in stock
    -- Lua; give it the user's protected environment, so that it sees the
    -- read-only globals Redis enforces everywhere (fidelity suite finding).
    real.loadstring = function(...)
      local f, e = raw_loadstring(...)
      if f then raw_setfenv(f, environment) end
      return f, e
    end
    real.load = function(...)
      local f, e = raw_load(...)
      if f then raw_setfenv(f, environment) end
      return f, e
    end

    return {handler = error_handler, environment = environment, globals = real}
    """#
}
