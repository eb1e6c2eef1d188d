/// One-off script runs, for `script-check eval` and the fidelity suite.
public enum ScriptEval {
    /// Runs `script` on a fresh, empty mock and returns what
    /// `redis-cli --no-raw --eval` prints for it against an empty server.
    public static func run(_ script: Script, keys: [[UInt8]], arguments: [[UInt8]]) -> [UInt8] {
        let engine = ScriptEngine()
        return RedisCliFormat.format(engine.eval(script, keys: keys, arguments: arguments).reply)
    }
}
