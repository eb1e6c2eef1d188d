/// A C library Redis 7.0 bundles into its scripting Lua that script-check
/// runs for real, from the shared object of a Debian package, rather than
/// rewriting it: Redis's copies are these same upstream libraries (Lua CJSON
/// 2.1.0, LuaBitOp 1.0.2), and the fidelity suite compares the two.
///
/// `struct` and `cmsgpack` have no such package; scripts using them get a
/// "does not model" error.
struct BundledLibrary: Sendable {
    /// The global Redis gives it.
    var name: String
    /// The Debian package that installs `file`.
    var package: String
    /// The shared object, by the soname the runtime package installs.
    var file: String
    /// Its entry point, which returns the library's table.
    var symbol: String

    static let all = [
        BundledLibrary(name: "cjson", package: "lua-cjson", file: "liblua5.1-cjson.so.0", symbol: "luaopen_cjson"),
        BundledLibrary(name: "bit", package: "lua-bitop", file: "liblua5.1-bitop.so.0", symbol: "luaopen_bit"),
    ]
}
