import Foundation

extension CheckReport {
    /// The human-readable report: findings first, then what was covered.
    public func text() -> String {
        var lines: [String] = ["script-check: \(directory)"]
        if !lint.isEmpty {
            lines.append("lint: \(lint.count) error(s)")
            lines += lint.map { "  \($0)" }
        } else {
            lines.append("lint: clean (syntax, header contract, globals, command allow-list)")
        }
        if let counterexample {
            lines.append("INVARIANT VIOLATED")
            lines.append(Timeline.render(counterexample))
            lines.append("reproduce: script-check --lua-dir \(directory) --seed \(seed) --runs \(runs) --depth \(depth)")
        }
        guard lint.isEmpty else {
            lines.append("exploration: not run, lint must pass first")
            lines.append("FAILED")
            return lines.joined(separator: "\n")
        }
        if counterexample?.phase == "foreign-state" {
            lines.append("foreign state: a corrupted lock state was mishandled (above); exploration not run")
        } else {
            lines.append("foreign state: \(foreignStatesChecked) corrupted lock states × 7 operations, no grant; malformed arguments refused, edge values accepted")
        }
        lines.append("exhaustive: depth \(depth) (and depth \(max(depth - 2, 0)) with one lost acquire reply per schedule), \(exhaustive.states) distinct states, \(exhaustive.schedules) schedules at the bound, \(exhaustive.steps) steps (\(exhaustive.scriptRuns) script runs, \(exhaustive.lostReplies) lost replies, \(exhaustive.crashes) crashes, \(exhaustive.timeJumps) time jumps), \(exhaustive.probes) liveness probes")
        let covered = leastPrivilege
        if counterexample?.phase == "least-privilege" {
            lines.append("least privilege: a missing permission was mishandled (above); random schedules not run")
        } else if covered.calls == 0 {
            lines.append("least privilege: not run, an earlier stage found a violation")
        } else {
            lines.append("least privilege: \(covered.calls) calls on \(covered.states) lock states, each run again with one command, command on a key or channel denied: \(covered.deniedRuns) denied runs (\(covered.refusals) refused, none after a write), \(covered.provenUnchanged) more proven unchanged without running")
        }
        lines.append("random: seed \(seed), \(random.schedules) schedules, \(random.steps) steps (\(random.scriptRuns) script runs, \(random.lostReplies) lost replies, \(random.crashes) crashes, \(random.timeJumps) time jumps), \(random.probes) liveness probes")
        lines.append(String(format: "took %.1f s, peak memory %.0f MiB; explored %.0f states/s and %.0f steps/s, %d script runs served from the run memo",
                            seconds, Double(peakMemoryBytes) / 1_048_576, statesPerSecond, stepsPerSecond,
                            exhaustive.memoHits + random.memoHits))
        lines.append(exitCode == 0 ? "OK: S1–S7 hold on every explored schedule, and R6 on every denied permission" : "FAILED")
        return lines.joined(separator: "\n")
    }

    /// Distinct states (exhaustive) per second of the whole run.
    public var statesPerSecond: Double { seconds > 0 ? Double(exhaustive.states) / seconds : 0 }
    /// Steps (exhaustive and random) per second of the whole run.
    public var stepsPerSecond: Double { seconds > 0 ? Double(exhaustive.steps + random.steps) / seconds : 0 }

    /// The report as one JSON object.
    public func json() -> String {
        var object: [String: Any] = [
            "directory": directory,
            "ok": exitCode == 0,
            "seed": seed,
            "lint": lint.map { ["file": $0.file, "line": $0.line ?? 0, "message": $0.message] as [String: Any] },
            "exhaustive": coverageObject(exhaustive, extra: ["depth": depth]),
            "random": coverageObject(random, extra: [:]),
            "foreign_states": foreignStatesChecked,
            "least_privilege": [
                "states": leastPrivilege.states, "calls": leastPrivilege.calls, "denied_runs": leastPrivilege.deniedRuns,
                "refusals": leastPrivilege.refusals, "proven_unchanged": leastPrivilege.provenUnchanged,
            ],
            "seconds": seconds,
            "peak_memory_bytes": peakMemoryBytes,
            "states_per_second": statesPerSecond,
            "steps_per_second": stepsPerSecond,
        ]
        if let counterexample {
            object["violation"] = [
                "invariant": counterexample.violation.invariant,
                "message": counterexample.violation.message,
                "phase": counterexample.phase,
                "seed": counterexample.seed,
                "timeline": Timeline.render(counterexample),
                "steps": counterexample.steps.map { step -> [String: Any] in
                    let (client, operation) = Timeline.describe(step.action, token: step.token, config: counterexample.config)
                    return ["time_ms": step.elapsedMs, "client": client, "operation": operation,
                            "reply": step.reply.map(Timeline.describe) ?? "", "oracle": step.oracleView]
                },
            ] as [String: Any]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private func coverageObject(_ coverage: Coverage, extra: [String: Any]) -> [String: Any] {
        var object: [String: Any] = [
            "states": coverage.states, "schedules": coverage.schedules, "steps": coverage.steps,
            "script_runs": coverage.scriptRuns, "lost_replies": coverage.lostReplies,
            "crashes": coverage.crashes, "time_jumps": coverage.timeJumps, "probes": coverage.probes,
            "memo_hits": coverage.memoHits,
        ]
        object.merge(extra) { $1 }
        return object
    }
}
