import Foundation
import Testing
@testable import ScriptCheck

extension Fidelity {
    /// `script-check eval` must print exactly what `redis-cli --no-raw --eval`
    /// prints, byte for byte, for a corpus of scripts (Scripts/*.lua, whose
    /// first line may be `-- eval: KEY ... , ARG ...`) and for generated ones.
    @Suite struct CliOutput {
        static let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Scripts")
        static let generatedCount = 80

        struct Case {
            var path: String
            var keys: [String]
            var args: [String]
        }

        static func corpus() throws -> [Case] {
            let names = try FileManager.default.contentsOfDirectory(atPath: scriptsDirectory.path)
                .filter { $0.hasSuffix(".lua") }.sorted()
            return try names.map { name in
                let path = scriptsDirectory.appendingPathComponent(name).path
                let firstLine = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").first ?? ""
                guard firstLine.hasPrefix("-- eval:") else { return Case(path: path, keys: [], args: []) }
                let words = firstLine.dropFirst("-- eval:".count).split(separator: " ").map(String.init)
                let comma = words.firstIndex(of: ",") ?? words.count
                return Case(path: path, keys: Array(words[..<comma]), args: Array(words[min(comma + 1, words.count)...]))
            }
        }

        /// Generated snippets written to a temporary directory.
        static func generated(seed: UInt64, baseMs: Int64) throws -> [Case] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fidelity-\(seed.hex)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var g = SplitMix64(seed: seed)
            var generator = LuaSnippetGenerator(commands: CommandGenerator(baseMs: baseMs))
            return try (0..<generatedCount).map { index in
                let snippet = generator.snippet(&g)
                let url = directory.appendingPathComponent("snippet\(index).lua")
                try Data(snippet.source.utf8).write(to: url)
                return Case(path: url.path, keys: snippet.keys, args: snippet.args)
            }
        }

        /// Runs an executable and returns its standard output.
        static func output(_ executable: String, _ arguments: [String]) throws -> [UInt8] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Array(data)
        }

        static func which(_ name: String) -> String? {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        }

        static func cliArguments(_ c: Case) -> [String] {
            c.keys + (c.args.isEmpty && c.keys.isEmpty ? [] : [","]) + c.args
        }

        @Test func scriptCheckEvalMatchesRedisCli() throws {
            let redisCli = try #require(Self.which("redis-cli"), "redis-cli is not on PATH")
            let url = try #require(ProcessInfo.processInfo.environment["REDIS_URL"])
            let seed = SplitMix64.derive(Fidelity.masterSeed, 200)
            print("Fidelity CLI: generated scripts seed \(seed.hex) (FIDELITY_SEED=\(Fidelity.masterSeed.hex))")
            let runner = try DifferentialRunner()
            let corpus = try Self.corpus()
            #expect(corpus.count >= 30)
            let cases = corpus + (try Self.generated(seed: seed, baseMs: try runner.serverMillis()))
            // The binary is what users run: never compared less for lack of it.
            let binary = try LiveEnvironment.requireScriptCheck().path
            var binaryChecks = 0
            for (index, c) in cases.enumerated() {
                try runner.flush()
                let expected = try Self.output(redisCli, ["-u", url, "-n", String(FidelityServer.database),
                                                          "--no-raw", "--eval", c.path] + Self.cliArguments(c))
                let source = try Array(Data(contentsOf: URL(fileURLWithPath: c.path)))
                let actual = ScriptEval.run(Script(name: c.path, source: source),
                                            keys: c.keys.map { Array($0.utf8) }, arguments: c.args.map { Array($0.utf8) })
                let shown = "\(c.path) \(describe(words: Self.cliArguments(c)))\n--- source ---\n\(String(decoding: source, as: UTF8.self))"
                #expect(actual == expected, """
                    script-check eval differs from redis-cli --no-raw --eval for \(shown)
                    --- redis-cli ---
                    \(String(decoding: expected, as: UTF8.self))--- script-check ---
                    \(String(decoding: actual, as: UTF8.self))
                    """)
                // The built binary too, for every corpus script with arguments
                // and a few generated ones (a process each, so not all).
                if (index < corpus.count && !c.keys.isEmpty) || index % 20 == 0 {
                    let printed = try Self.output(binary, ["eval", c.path] + Self.cliArguments(c))
                    #expect(printed == expected, "script-check binary differs from redis-cli for \(shown)")
                    binaryChecks += 1
                }
            }
            print("Fidelity CLI: \(cases.count) scripts compared with redis-cli, \(binaryChecks) also through \(binary)")
        }
    }
}
