#ifndef CLUA_SHIM_H
#define CLUA_SHIM_H

// The Lua 5.1 C API for ScriptCheck's embedded interpreter. Lua's API is
// partly function-like macros, which Swift cannot import; each is wrapped in
// a prefixed static inline helper below. The module also owns the three
// places where a Lua error may be raised on behalf of Swift code (the call
// trampoline, the instruction-budget hook and the allocator), because a Lua
// error is a longjmp and must never unwind through a Swift frame.

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <dlfcn.h>

static inline void clua_pop(lua_State *L, int n) { lua_settop(L, -(n) - 1); }
static inline void clua_newtable(lua_State *L) { lua_createtable(L, 0, 0); }
static inline int clua_upvalueindex(int i) { return lua_upvalueindex(i); }
static inline int clua_registryindex(void) { return LUA_REGISTRYINDEX; }
static inline int clua_globalsindex(void) { return LUA_GLOBALSINDEX; }
static inline void clua_getglobal(lua_State *L, const char *name) { lua_getfield(L, LUA_GLOBALSINDEX, name); }
static inline void clua_setglobal(lua_State *L, const char *name) { lua_setfield(L, LUA_GLOBALSINDEX, name); }

/// Per-state bookkeeping owned by the Swift wrapper: the instruction budget
/// and the memory cap. Lives in the registry as a light userdata.
typedef struct clua_limits {
    long instructions_left;   // decremented by CLUA_HOOK_STRIDE per hook call
    int budget_exceeded;      // sticky: once set, every hook call raises again
    size_t bytes_used;
    size_t bytes_limit;       // 0 = unlimited
    int memory_exceeded;
} clua_limits;

#define CLUA_HOOK_STRIDE 1000

static void *clua_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    clua_limits *limits = (clua_limits *)ud;
    if (nsize == 0) {
        limits->bytes_used -= osize;
        free(ptr);
        return NULL;
    }
    if (limits->bytes_limit != 0 && nsize > osize &&
        limits->bytes_used + (nsize - osize) > limits->bytes_limit) {
        // Returning NULL makes Lua raise LUA_ERRMEM itself, from C.
        limits->memory_exceeded = 1;
        return NULL;
    }
    void *grown = realloc(ptr, nsize);
    if (grown != NULL) limits->bytes_used = limits->bytes_used - osize + nsize;
    return grown;
}

static inline lua_State *clua_newstate(clua_limits *limits) {
    return lua_newstate(clua_alloc, limits);
}

static const char clua_limits_key = 'L';

static void clua_budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_pushlightuserdata(L, (void *)&clua_limits_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    clua_limits *limits = (clua_limits *)lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (limits == NULL) return;
    limits->instructions_left -= CLUA_HOOK_STRIDE;
    if (limits->instructions_left <= 0) {
        // Sticky, and from now on at every instruction (as Redis does after
        // SCRIPT KILL): a loop that catches the error with pcall meets it
        // again outside the pcall, so no script can outrun the budget.
        limits->budget_exceeded = 1;
        lua_sethook(L, clua_budget_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "script exceeded the instruction budget");
    }
}

/// Back to the normal stride before a new call (after a budget overrun the
/// hook fires at every instruction).
static inline void clua_reset_hook(lua_State *L) {
    lua_sethook(L, clua_budget_hook, LUA_MASKCOUNT, CLUA_HOOK_STRIDE);
}

static inline void clua_install_limits(lua_State *L, clua_limits *limits) {
    lua_pushlightuserdata(L, (void *)&clua_limits_key);
    lua_pushlightuserdata(L, limits);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_sethook(L, clua_budget_hook, LUA_MASKCOUNT, CLUA_HOOK_STRIDE);
}

/// A Swift function as Lua sees it. It reads its arguments from the stack,
/// pushes its results and returns how many; or pushes one error value and
/// returns -1, and the trampoline raises it from C.
typedef int (*clua_swift_function)(lua_State *L, void *context, int function_id);

static int clua_trampoline(lua_State *L) {
    clua_swift_function entry = (clua_swift_function)lua_touserdata(L, lua_upvalueindex(1));
    void *context = lua_touserdata(L, lua_upvalueindex(2));
    int function_id = (int)lua_tointeger(L, lua_upvalueindex(3));
    int results = entry(L, context, function_id);
    if (results < 0) return lua_error(L);
    return results;
}

static inline void clua_push_swift_function(lua_State *L, clua_swift_function entry,
                                            void *context, int function_id) {
    lua_pushlightuserdata(L, (void *)entry);
    lua_pushlightuserdata(L, context);
    lua_pushinteger(L, function_id);
    lua_pushcclosure(L, clua_trampoline, 3);
}

/// Opens one of the C libraries Redis bundles into its scripting Lua from
/// the shared object a Debian package installs (lua-cjson, lua-bitop): the
/// real library, not a rewrite. Its `luaopen_` function runs under
/// lua_pcall, so an error it raises unwinds in C only. Returns 1 with the
/// library's table pushed; 0 with an error message pushed. The object stays
/// loaded for the life of the process. It resolves the Lua API from the
/// liblua5.1 this process already links.
static inline int clua_open_shared_library(lua_State *L, const char *file, const char *symbol) {
    void *handle = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        lua_pushstring(L, dlerror());
        return 0;
    }
    lua_CFunction open = (lua_CFunction)dlsym(handle, symbol);
    if (open == NULL) {
        lua_pushstring(L, dlerror());
        return 0;
    }
    lua_pushcfunction(L, open);
    if (lua_pcall(L, 0, 1, 0) != 0) return 0;
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_pushstring(L, "the library's luaopen_ function returned no table");
        return 0;
    }
    return 1;
}

#endif
