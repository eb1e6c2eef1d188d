import Foundation
import RWLock

// rwlock-bench: measures the lock against its floor on the server named by
// REDIS_URL, and, when REDIS_CLUSTER_URL names a cluster, the cost of cluster
// routing and of replicated grants there (it starts nothing itself). Prints
// a table and, per measurement, one JSON line:
// {"metric": NAME, "p50_us": ..., "p99_us": ..., "ops_per_s": ...}.
// See BENCHMARKS.md.

let environment = ProcessInfo.processInfo.environment
guard let url = environment["REDIS_URL"], !url.isEmpty else {
    FileHandle.standardError.write(Data("rwlock-bench: set REDIS_URL (e.g. redis://127.0.0.1:6379); it starts no server\n".utf8))
    exit(2)
}
let prefix = "rwlock-bench:\(ProcessInfo.processInfo.processIdentifier)"
let report = Report()

do {
    // One connection: the floor and the uncontended cycles share it.
    let single = try RedisClient(url: url, maxConnections: 1)
    defer { single.shutdown() }
    say("rwlock-bench against \(url)")

    report.section("floor (bare EVALSHA of `return 1`, PING; one pooled hiredis connection)")
    try await Floor.run(single, report: report, iterations: 5_000)

    report.section("uncontended cycles (acquire + release, same connection)")
    try await Cycles.run(single, prefix: prefix, report: report, iterations: 5_000)

    report.section("server CPU per cycle (INFO commandstats deltas; a minimal mutex cycle measured the same way)")
    try await ServerCPU.run(single, prefix: prefix, report: report, cycles: 3_000)

    let pooled = try RedisClient(url: url, maxConnections: 16)
    defer { pooled.shutdown() }
    report.section("contended throughput (1 s per row; pool of 16 connections)")
    try await Throughput.run(pooled, prefix: prefix, report: report, window: .seconds(1))

    report.section("handoff latency (write -> waiting writer)")
    try await Handoff.run(pooled, prefix: prefix, report: report, iterations: 100)

    report.section("writer wait under a continuous reader flood")
    try await WriterWait.run(pooled, prefix: prefix, report: report, samples: 100, readers: 8)

    if let clusterURL = environment["REDIS_CLUSTER_URL"], !clusterURL.isEmpty {
        report.section("Redis Cluster write cycles (one connection per node; plain and replicated grants interleaved)")
        try await ClusterCycles.run(clusterURL: clusterURL, prefix: prefix, report: report, iterations: 3_000)
    } else {
        say("\nRedis Cluster cycles skipped: set REDIS_CLUSTER_URL (scripts/redis-cluster.sh start DIR prints one)")
    }
} catch {
    FileHandle.standardError.write(Data("rwlock-bench: \(error)\n".utf8))
    exit(1)
}

report.section("python peers (mutex cycles, same server)")
Peers.run(url: url, cycles: 3_000, report: report)

report.section("script-check throughput (offline)")
do {
    try ScriptCheckBench.run(report: report, randomSteps: 20_000, exhaustiveDepth: 6)
} catch {
    say("script-check throughput skipped: \(error)")
}

// Targets, as ratios within this run.
say("\n== targets (same run)")
@MainActor func p50(_ metric: String) -> Double? { report[metric]?.p50 }
@MainActor func ops(_ metric: String) -> Double? { report[metric]?.opsPerSecond }
func verdict(_ met: Bool) -> String { met ? "MET" : "MISSED" }
func line(_ text: String) { say(text) }
for mode in ["write", "read"] {
    if let cycle = p50("\(mode)_cycle"), let floor = p50("floor_cycle_2x_evalsha") {
        let ratio = cycle / floor
        line("\(mode) cycle p50 / floor (2 x EVALSHA) p50 = \(Measurement.format(cycle)) / \(Measurement.format(floor)) = \(String(format: "%.2f", ratio)) (target <= 1.25): \(verdict(ratio <= 1.25))")
    }
    if let cycle = p50("\(mode)_cycle"), let peer = p50("peer_redis_py_lock_cycle") {
        line("\(mode) cycle p50 / redis-py Lock cycle p50 = \(String(format: "%.2f", cycle / peer)) (target <= 0.8): \(verdict(cycle / peer <= 0.8))")
    }
}
if let wait = report["writer_wait_reader_flood"], let handoff = p50("handoff_pubsub"), let p50Wait = wait.p50, let p99Wait = wait.p99 {
    line("writer wait under reader flood p50 / handoff p50 = \(String(format: "%.1f", p50Wait / handoff)) (target <= 4): \(verdict(p50Wait / handoff <= 4))")
    line("writer wait under reader flood p99 / handoff p50 = \(String(format: "%.1f", p99Wait / handoff)) (target <= 10): \(verdict(p99Wait / handoff <= 10))")
}
if let reads = ops("read_throughput_16"), let bare = ops("evalsha_throughput_16") {
    line("16-task read grants / half the 16-task EVALSHA rate = \(String(format: "%.2f", reads / (bare / 2))) (target >= 0.7): \(verdict(reads / (bare / 2) >= 0.7))")
}
if let mixed = ops("rw90_10_throughput_16"), let reads = ops("read_throughput_16") {
    line("90/10 grants at 16 tasks / read-only at 16 = \(String(format: "%.2f", mixed / reads)) (target >= 0.3): \(verdict(mixed / reads >= 0.3))")
}
if let four = ops("rw90_10_throughput_4"), let one = ops("rw90_10_throughput_1") {
    line("90/10 grants at 4 tasks / at 1 task = \(String(format: "%.2f", four / one)) (target >= 1.0): \(verdict(four / one >= 1.0))")
}
for mode in ["write", "read"] {
    if let lock = p50("server_cpu_\(mode)_cycle"), let mutex = p50("server_cpu_mutex_cycle") {
        line("server CPU per \(mode) cycle / mutex cycle = \(Measurement.format(lock)) / \(Measurement.format(mutex)) us = \(String(format: "%.2f", lock / mutex))x (target <= 3): \(verdict(lock / mutex <= 3))")
    }
}
if let pubsub = p50("handoff_pubsub"), let polling = p50("handoff_polling") {
    line("handoff p50 = \(Measurement.format(pubsub)) us (target <= 1000): \(verdict(pubsub <= 1000))")
    line("handoff polling / pub/sub p50 = \(String(format: "%.1f", polling / pubsub))x (target >= 5x): \(verdict(polling / pubsub >= 5))")
}
if let cluster = p50("cluster_write_cycle"), let single = p50("write_cycle") {
    line("cluster write cycle p50 / single-server write cycle p50 = \(String(format: "%.2f", cluster / single)) (cost of routing; no target)")
}
if let replicated = p50("cluster_write_cycle_replicated"), let plain = p50("cluster_write_cycle") {
    line("replicated grants: write cycle p50 with WAIT 1 / without = \(Measurement.format(replicated)) / \(Measurement.format(plain)) us = \(String(format: "%.2f", replicated / plain))x (cost of confirming; no target)")
}
for peer in ["peer_redis_py_lock_cycle", "peer_python_redis_lock_cycle"] {
    guard let theirs = p50(peer) else { line("\(peer): not measured"); continue }
    for ours in ["write_cycle", "read_cycle"] {
        guard let mine = p50(ours) else { continue }
        line("\(ours) p50 vs \(peer) p50 = \(Measurement.format(mine)) vs \(Measurement.format(theirs)) us: \(verdict(mine < theirs))")
    }
}
