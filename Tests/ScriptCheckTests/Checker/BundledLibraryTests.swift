import Testing
@testable import ScriptCheck

/// cjson and bit are the real libraries (the fidelity corpus compares their
/// output with Redis's); struct and cmsgpack are refused loudly; and a
/// missing Debian package is named, never a silent nil.
@Suite struct BundledLibraryTests {
    func run(_ source: String, engine: ScriptEngine = ScriptEngine()) -> RedisReply {
        engine.eval(Script(name: "s.lua", source: Array(source.utf8)), keys: [], arguments: []).reply
    }

    @Test func cjsonAndBitAreLoaded() {
        #expect(run("return cjson.encode({1, 'two', {three = true}})") == .bulk(Array(#"[1,"two",{"three":true}]"#.utf8)))
        #expect(run("return cjson.decode('[10, 20]')[2]") == .integer(20))
        #expect(run("return bit.tohex(bit.bxor(-1, 0xff))") == .bulk(Array("ffffff00".utf8)))
    }

    @Test(arguments: ["struct", "cmsgpack"])
    func unmodelledLibrariesAreRefused(_ name: String) {
        let reply = run("return \(name).pack('>I', 1)")
        guard case .error(let text) = reply else {
            Issue.record("\(name) gave \(reply)")
            return
        }
        #expect(text.contains("script-check does not model the '\(name)' library (\(name).pack)"), "\(text)")
    }

    @Test func aMissingPackageIsNamed() {
        let missing = BundledLibrary(name: "cjson", package: "lua-cjson", file: "liblua5.1-no-such-cjson.so.0", symbol: "luaopen_cjson")
        let others = BundledLibrary.all.filter { $0.name != "cjson" }
        let engine = ScriptEngine(redis: MockRedis(), instructionBudget: 100_000, memoryLimit: 16 << 20,
                                  libraries: [missing] + others)
        let reply = run("return cjson.encode({1})", engine: engine)
        guard case .error(let text) = reply else {
            Issue.record("cjson without its library gave \(reply)")
            return
        }
        #expect(text.contains("script-check could not load the 'cjson' library"), "\(text)")
        #expect(text.contains("liblua5.1-no-such-cjson.so.0") && text.contains("install Debian's lua-cjson"), "\(text)")
        #expect(run("return bit.band(6, 3)", engine: engine) == .integer(2))
    }
}
