import RWLock

/// The floor of one lock cycle: a bare EVALSHA of a trivial script (an
/// acquire+release cycle is two script calls) and PING, on the same pooled
/// hiredis connection the lock's own scripts use.
enum Floor {
    static let trivialScript = "return 1"

    /// Loads the trivial script and returns its SHA-1.
    static func load(_ client: RedisClient) async throws -> String {
        guard let sha = try await client.benchmarkCommand(["SCRIPT", "LOAD", trivialScript]) else {
            throw BenchError("SCRIPT LOAD returned nil")
        }
        return sha
    }

    static func run(_ client: RedisClient, report: Report, iterations: Int) async throws {
        let sha = try await load(client)
        let evalsha = ["EVALSHA", sha, "0"]
        for _ in 0..<500 { _ = try await client.benchmarkCommand(evalsha) }  // warm-up

        var samples: [Duration] = []
        samples.reserveCapacity(iterations)
        let clock = ContinuousClock()
        var elapsed = try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                _ = try await client.benchmarkCommand(evalsha)
                samples.append(clock.now - start)
            }
        }
        report.add(Measurement(metric: "floor_evalsha", samples: samples, elapsed: elapsed))
        let pair = samples.map { $0 * 2 }
        report.add(Measurement(metric: "floor_cycle_2x_evalsha", samples: pair,
                               note: "2 x floor_evalsha samples (the floor of acquire+release)"))

        samples.removeAll(keepingCapacity: true)
        elapsed = try await timed {
            for _ in 0..<iterations {
                let start = clock.now
                _ = try await client.benchmarkCommand(["PING"])
                samples.append(clock.now - start)
            }
        }
        report.add(Measurement(metric: "floor_ping", samples: samples, elapsed: elapsed))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
