import ScriptCheck
import Foundation
import Testing

extension Fidelity {
    /// Random command sequences on the mock and on Redis 7.0, reply by reply,
    /// then the final keyspaces.
    @Suite struct Commands {
        static let batches = 4
        static let sequencesPerBatch = 25
        static let commandsPerSequence = 200

        @Test(arguments: 0..<batches)
        func commandSequences(batch: Int) throws {
            let seed = SplitMix64.derive(Fidelity.masterSeed, batch)
            print("Fidelity commands batch \(batch): seed \(seed.hex) (FIDELITY_SEED=\(Fidelity.masterSeed.hex))")
            let runner = try DifferentialRunner()
            var g = SplitMix64(seed: seed)
            var generator = CommandGenerator(baseMs: try runner.serverMillis())
            let started = ContinuousClock.now
            for sequence in 0..<Self.sequencesPerBatch * Fidelity.scale {
                let steps = (0..<Self.commandsPerSequence).map { _ in Step.command(generator.command(&g)) }
                if let report = try runner.check(steps, seed: seed, label: "commands batch \(batch), sequence \(sequence)") {
                    print(report)
                    Issue.record(Comment(rawValue: report))
                    return
                }
            }
            print("Fidelity commands batch \(batch): \(runner.summary) agreed in \(ContinuousClock.now - started)")
        }
    }
}
