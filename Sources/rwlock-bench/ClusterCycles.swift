import RWLock

/// Uncontended write cycles on a Redis Cluster, to price its two options in
/// the same run: cluster routing against the single server's cycle, and
/// replicated grants (WAIT for one replica after the acquire) against plain
/// grants on the same cluster. Cycles alternate between the variants so
/// that drift on a shared machine hits them alike.
enum ClusterCycles {
    static func run(clusterURL: String, prefix: String, report: Report, iterations: Int) async throws {
        let client = try RWLockClient(url: clusterURL, configuration: .init(maxConnections: 1))
        defer { client.close() }
        let plain = try RWLock(name: "\(prefix):cluster-cycle", client: client)
        var replicated = RWLock.Options()
        replicated.replicatedGrants = .init(replicas: 1, timeout: .milliseconds(200))
        // Same slot, so both variants run on the same master.
        let confirmed = try RWLock(name: "\(prefix):cluster-cycle", client: client, options: replicated)

        for _ in 0..<300 {
            try await Cycles.cycle(plain, .write)
            try await Cycles.cycle(confirmed, .write)
        }
        var plainSamples: [Duration] = [], confirmedSamples: [Duration] = []
        let clock = ContinuousClock()
        var plainElapsed = Duration.zero, confirmedElapsed = Duration.zero
        for _ in 0..<iterations {
            var start = clock.now
            try await Cycles.cycle(plain, .write)
            var took = clock.now - start
            plainSamples.append(took)
            plainElapsed += took
            start = clock.now
            try await Cycles.cycle(confirmed, .write)
            took = clock.now - start
            confirmedSamples.append(took)
            confirmedElapsed += took
        }
        report.add(Measurement(metric: "cluster_write_cycle", samples: plainSamples, elapsed: plainElapsed,
                               note: "acquireWrite + release routed to the slot's master"))
        report.add(Measurement(metric: "cluster_write_cycle_replicated", samples: confirmedSamples, elapsed: confirmedElapsed,
                               note: "the same with replicatedGrants = 1 replica (WAIT 1 200)"))
    }
}
