import ScriptCheck
import Foundation
import Testing

extension Fidelity {
    /// Random Lua scripts through the mock's ScriptEngine and through EVAL,
    /// replies compared byte for byte (error texts carry the script's SHA1
    /// and line), then the final keyspaces. Each sequence mixes scripts with
    /// a few plain commands so scripts meet keys of every type.
    @Suite struct LuaSnippets {
        static let batches = 3
        static let sequencesPerBatch = 20
        static let snippetsPerSequence = 40

        @Test(arguments: 0..<batches)
        func luaSnippets(batch: Int) async throws {
            // On a thread of its own: blocking network calls must not hold a
            // cooperative-pool thread the live lock tests need.
            if let report = try await offThePool({ try Self.runLuaBatch(batch) }) {
                Issue.record(Comment(rawValue: report))
            }
        }

        /// The batch itself: the failure report, or nil when both sides agreed.
        static func runLuaBatch(_ batch: Int) throws -> String? {
            let seed = SplitMix64.derive(Fidelity.masterSeed, 100 + batch)
            print("Fidelity Lua batch \(batch): seed \(seed.hex) (FIDELITY_SEED=\(Fidelity.masterSeed.hex))")
            let runner = try DifferentialRunner()
            var g = SplitMix64(seed: seed)
            var generator = LuaSnippetGenerator(commands: CommandGenerator(baseMs: try runner.serverMillis()))
            let started = ContinuousClock.now
            var snippets = 0
            for sequence in 0..<Self.sequencesPerBatch * Fidelity.scale {
                var steps: [Step] = []
                for _ in 0..<Self.snippetsPerSequence {
                    if g.chance(0.3) { steps.append(.command(generator.commands.command(&g))) }
                    steps.append(.lua(generator.snippet(&g)))
                    snippets += 1
                }
                if let report = try runner.check(steps, seed: seed, label: "Lua batch \(batch), sequence \(sequence)") {
                    print(report)
                    return report
                }
            }
            print("Fidelity Lua batch \(batch): \(snippets) scripts in \(runner.summary) agreed in \(ContinuousClock.now - started)")
            return nil
        }

    }
}
