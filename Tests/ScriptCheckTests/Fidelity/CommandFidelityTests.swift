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
        func commandSequences(batch: Int) async throws {
            // On a thread of its own: blocking network calls must not hold a
            // cooperative-pool thread the live lock tests need.
            if let report = try await offThePool({ try Self.runCommandBatch(batch) }) {
                Issue.record(Comment(rawValue: report))
            }
        }

        /// The batch itself: the failure report, or nil when both sides agreed.
        static func runCommandBatch(_ batch: Int) throws -> String? {
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
                    return report
                }
            }
            print("Fidelity commands batch \(batch): \(runner.summary) agreed in \(ContinuousClock.now - started)")
            return nil
        }

    }
}
