import RWLock

/// The cost of TLS: write cycles over a TLS connection beside plain TCP
/// ones, to the same redis-server (its port and its tls-port), in
/// alternating rounds; and what opening a connection costs each way, the
/// TLS handshake included.
enum TLSCycles {
    static func run(plainURL: String, tlsURL: String, tls: TLSConfiguration, prefix: String, report: Report, iterations: Int) async throws {
        let plain = try RWLockClient(url: plainURL, configuration: .init(maxConnections: 1))
        let secure = try RWLockClient(url: tlsURL, configuration: .init(maxConnections: 1, tls: tls))
        defer { plain.close(); secure.close() }
        let locks = [
            try RWLock(name: "\(prefix):tls-baseline", client: plain), try RWLock(name: "\(prefix):tls", client: secure),
        ]
        for lock in locks { for _ in 0..<300 { try await Cycles.cycle(lock, .write) } }  // warm-up
        let clock = ContinuousClock()
        var samples: [[Duration]] = [[], []]
        var elapsed: [Duration] = [.zero, .zero]
        let perRound = max(1, iterations / Cycles.rounds)
        for round in 0..<Cycles.rounds {
            for step in 0..<2 {
                let side = (round + step) % 2
                elapsed[side] += try await timed {
                    for _ in 0..<perRound {
                        let start = clock.now
                        try await Cycles.cycle(locks[side], .write)
                        samples[side].append(clock.now - start)
                    }
                }
            }
        }
        report.add(Measurement(metric: "write_cycle_tls_baseline", samples: samples[0], elapsed: elapsed[0],
                               note: "plain TCP, same server, in the TLS cycles' rounds"))
        report.add(Measurement(metric: "write_cycle_tls", samples: samples[1], elapsed: elapsed[1], note: "over TLS 1.3"))

        // A new client's first command opens its connection: TCP connect,
        // then for TLS the handshake, then the PING itself.
        var opened: [[Duration]] = [[], []]
        for round in 0..<100 {
            for step in 0..<2 {
                let side = (round + step) % 2
                let client = side == 0 ? try RWLockClient(url: plainURL, configuration: .init(maxConnections: 1))
                    : try RWLockClient(url: tlsURL, configuration: .init(maxConnections: 1, tls: tls))
                let start = clock.now
                _ = try await client.benchmarkCommand(["PING"])
                opened[side].append(clock.now - start)
                client.close()
            }
        }
        report.add(Measurement(metric: "connect_tcp", samples: opened[0], note: "a new connection's first PING"))
        report.add(Measurement(metric: "connect_tls", samples: opened[1], note: "the same with the TLS handshake"))
    }
}
