import RWLock

/// The floor of one lock cycle: a bare EVALSHA of a trivial script (an
/// acquire+release cycle is two script calls) and PING, on the same pooled
/// hiredis connection the lock's own scripts use.
enum Floor {
    static let trivialScript = "return 1"

    /// Loads the trivial script and returns its SHA-1.
    static func load(_ client: RWLockClient) async throws -> String {
        guard let sha = try await client.benchmarkCommand(["SCRIPT", "LOAD", trivialScript]) else {
            throw BenchError("SCRIPT LOAD returned nil")
        }
        return sha
    }

    /// Timed samples of one EVALSHA of the trivial script, and of one PING.
    struct Samples {
        var evalsha: [Duration] = []
        var ping: [Duration] = []
        var evalshaElapsed = Duration.zero
        var pingElapsed = Duration.zero
    }

    /// Adds `iterations` of each to `samples`.
    static func sample(_ client: RWLockClient, sha: String, iterations: Int, into samples: inout Samples) async throws {
        let clock = ContinuousClock()
        let evalsha = ["EVALSHA", sha, "0"]
        samples.evalshaElapsed += try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                _ = try await client.benchmarkCommand(evalsha)
                samples.evalsha.append(clock.now - start)
            }
        }
        samples.pingElapsed += try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                _ = try await client.benchmarkCommand(["PING"])
                samples.ping.append(clock.now - start)
            }
        }
    }

    static func report(_ samples: Samples, to report: Report) {
        report.add(Measurement(metric: "floor_evalsha", samples: samples.evalsha, elapsed: samples.evalshaElapsed))
        report.add(Measurement(metric: "floor_cycle_2x_evalsha", samples: samples.evalsha.map { $0 * 2 },
                               note: "2 x floor_evalsha samples (the floor of acquire+release)"))
        report.add(Measurement(metric: "floor_ping", samples: samples.ping, elapsed: samples.pingElapsed))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
