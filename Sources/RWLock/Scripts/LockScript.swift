/// One of the lock's Lua scripts, as Redis runs it: its exact bytes and the
/// SHA-1 digest EVALSHA names it by.
///
/// The values come from the package's `lua/` directory, embedded at build
/// time by the EmbedLuaScripts plugin (see `LockScript.acquireRead` and the
/// other static members it generates), so the runtime runs byte for byte what
/// script-check proved.
struct LockScript: Sendable, Hashable {
    /// The file name without `.lua`, such as `acquire_read`.
    let name: String
    /// The lowercase hex SHA-1 of ``source``, as `SCRIPT LOAD` returns it.
    let sha1: String
    /// The script's bytes, exactly as in its file.
    let source: [UInt8]

    init(name: String, sha1: String, text: String) {
        self.name = name
        self.sha1 = sha1
        self.source = Array(text.utf8)
    }
}
