import ArgumentParser
import Foundation
import ScriptCheck

/// `script-check eval FILE [KEY ...] , [ARG ...]`: runs one script on a fresh
/// mock and prints the reply as `redis-cli --no-raw --eval` would.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run one script on an empty mock Redis and print the reply as redis-cli --no-raw --eval does.",
        discussion: "Keys and arguments are separated by a lone ',' exactly as with redis-cli --eval."
    )

    @Argument(help: "The Lua script to run.")
    var file: String

    @Argument(parsing: .captureForPassthrough, help: "KEY ... , ARG ...")
    var keysAndArguments: [String] = []

    func run() throws {
        guard let source = FileManager.default.contents(atPath: file) else {
            throw ScriptCheck.SetupError("cannot read script file '\(file)'")
        }
        var keys = keysAndArguments
        var arguments: [String] = []
        if let comma = keysAndArguments.firstIndex(of: ",") {
            keys = Array(keysAndArguments[..<comma])
            arguments = Array(keysAndArguments[(comma + 1)...])
        }
        let output = ScriptEval.run(
            Script(name: file, source: Array(source)),
            keys: keys.map { Array($0.utf8) },
            arguments: arguments.map { Array($0.utf8) })
        FileHandle.standardOutput.write(Data(output))
    }
}

