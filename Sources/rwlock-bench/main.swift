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
// The Python peers run in the cycles' rounds (see Peers), reported below.
let peers = Peers.start(url: url)

do {
    // One connection: the floor and the uncontended cycles share it.
    let single = try RWLockClient(url: url, configuration: .init(maxConnections: 1))
    defer { single.close() }
    say("rwlock-bench against \(url)")

    report.section("floor (bare EVALSHA of `return 1`, PING; one pooled hiredis connection)")
    try await Cycles.run(single, prefix: prefix, report: report, iterations: 5_000) {
        peers?.round(cycles: 3_000 / Cycles.rounds)
    }

    report.section("server CPU per cycle (INFO commandstats deltas; a minimal mutex cycle measured the same way)")
    try await ServerCPU.run(single, prefix: prefix, report: report, cycles: 3_000)

    let pooled = try RWLockClient(url: url, configuration: .init(maxConnections: 16))
    defer { pooled.close() }
    report.section("contended throughput (1 s per row, as 5 interleaved rounds of 200 ms; pool of 16 connections)")
    try await Throughput.run(pooled, prefix: prefix, report: report, window: .seconds(1), rounds: 5)

    report.section("handoff latency (write -> waiting writer)")
    // A second client stands for a second process (see Handoff, WriterWait).
    let other = try RWLockClient(url: url, configuration: .init(maxConnections: 16))
    defer { other.close() }
    try await Handoff.run(pooled, waitingOn: other, prefix: prefix, report: report, iterations: 100)

    report.section("writer wait under a continuous reader flood")
    try await WriterWait.run(pooled, writingOn: other, prefix: prefix, report: report, samples: 100, readers: 8)

    if let tlsURL = environment["REDIS_TLS_URL"], !tlsURL.isEmpty {
        report.section("TLS write cycles (the same server's tls-port; plain cycles interleaved) and connection setup")
        let tls = TLSConfiguration(caFile: environment["REDIS_TLS_CA"])
        try await TLSCycles.run(plainURL: url, tlsURL: tlsURL, tls: tls, prefix: prefix, report: report, iterations: 3_000)
    } else {
        say("\nTLS cycles skipped: set REDIS_TLS_URL (rediss:// on the same server's tls-port) and REDIS_TLS_CA")
    }

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

report.section("python peers (mutex cycles, same server, in the uncontended cycles' rounds)")
peers?.finish(to: report)

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
/// One target: `numerator / denominator` against `limit`, printed with
/// both figures; nothing when either was not measured.
enum Bound {
    case atMost(Double), atLeast(Double)
}
func target(_ label: String, _ numerator: Double?, _ denominator: Double?, _ goal: Bound) {
    guard let numerator, let denominator, denominator > 0 else { return }
    let ratio = numerator / denominator
    let (bound, met) =
        switch goal {
        case .atMost(let limit): ("<= \(limit)", ratio <= limit)
        case .atLeast(let limit): (">= \(limit)", ratio >= limit)
        }
    line("\(label) = \(Measurement.format(numerator)) / \(Measurement.format(denominator)) = \(String(format: "%.2f", ratio)) (target \(bound)): \(verdict(met))")
}
for mode in ["write", "read"] {
    target("\(mode) cycle p50 / floor (2 x EVALSHA) p50", p50("\(mode)_cycle"), p50("floor_cycle_2x_evalsha"), .atMost(1.25))
    target("\(mode) cycle p50 / redis-py Lock cycle p50", p50("\(mode)_cycle"), p50("peer_redis_py_lock_cycle"), .atMost(0.8))
}
let handoff = p50("handoff_pubsub")
target("writer wait under reader flood p50 / handoff p50", report["writer_wait_reader_flood"]?.p50, handoff, .atMost(4))
target("writer wait under reader flood p99 / handoff p50", report["writer_wait_reader_flood"]?.p99, handoff, .atMost(10))
target("16-task read grants / half the 16-task EVALSHA rate", ops("read_throughput_16"), ops("evalsha_throughput_16").map { $0 / 2 }, .atLeast(0.7))
target("90/10 grants at 16 tasks / read-only at 16", ops("rw90_10_throughput_16"), ops("read_throughput_16"), .atLeast(0.3))
target("90/10 grants at 4 tasks / at 1 task", ops("rw90_10_throughput_4"), ops("rw90_10_throughput_1"), .atLeast(1.0))
for mode in ["write", "read"] {
    target("server CPU us per \(mode) cycle / mutex cycle", p50("server_cpu_\(mode)_cycle"), p50("server_cpu_mutex_cycle"), .atMost(3))
}
// The fenced mutex (lua/bench/fenced_mutex_*.lua) pays for a fencing token and
// a release message and nothing else: its ratio to the mutex is the least any
// lock with S6 and woken waiters costs, and the lock's ratio to it is what
// readers, the queue and the type checks add.
if let fenced = p50("server_cpu_fenced_mutex_cycle"), let mutex = p50("server_cpu_mutex_cycle") {
    line("server CPU us per fenced mutex cycle / mutex cycle = \(Measurement.format(fenced)) / \(Measurement.format(mutex)) = \(String(format: "%.2f", fenced / mutex)) (the floor of fencing + release messages; no target)")
    for mode in ["write", "read"] {
        if let cycle = p50("server_cpu_\(mode)_cycle") {
            line("server CPU us per \(mode) cycle / fenced mutex cycle = \(Measurement.format(cycle)) / \(Measurement.format(fenced)) = \(String(format: "%.2f", cycle / fenced)) (what readers, queue and type checks add; no target)")
        }
    }
}
target("handoff polling p50 / pub/sub p50", p50("handoff_polling"), handoff, .atLeast(5))
if let pubsub = handoff {
    line("handoff p50 = \(Measurement.format(pubsub)) us (target <= 1000): \(verdict(pubsub <= 1000))")
}
target("TLS write cycle p50 / plain write cycle p50", p50("write_cycle_tls"), p50("write_cycle_tls_baseline"), .atMost(1.15))
if let tls = p50("connect_tls"), let tcp = p50("connect_tcp") {
    line("a new connection's first PING over TLS / over TCP p50 = \(Measurement.format(tls)) / \(Measurement.format(tcp)) us: the handshake costs about \(Measurement.format(tls - tcp)) us (no target)")
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
