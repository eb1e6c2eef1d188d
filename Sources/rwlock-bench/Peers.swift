import Foundation

/// The Python peers (redis-py's Lock, python-redis-lock: mutex cycles; neither
/// is an RW lock), run by `scripts/bench-peers.sh --serve` in a throwaway
/// virtual environment against the same server.
///
/// The peers are measured in the same rounds as the lock's own cycles
/// (``Cycles``): a cycle-against-peer target is a ratio, and these shared
/// cores drift by 20% or more within a run, so a peer timed minutes after
/// the lock's cycles compared the machine's two moments, not the two locks.
/// Its samples are kept here and reported in their own section at the end.
///
/// Main-actor isolated: the exchanges with the script block on its pipes,
/// which must not happen on the cooperative pool's few threads.
@MainActor
final class Peers {
    static let metrics = ["peer_redis_py_lock_cycle", "peer_python_redis_lock_cycle"]

    private let process: Process
    private let requests: FileHandle
    private let replies: FileHandle
    /// The script's standard error: pip's and Python's complaints, shown
    /// only when the peers fail.
    private let log: URL
    private var buffered = Data()
    private var samples: [String: [Duration]] = [:]
    /// Why the peers stopped, when the script failed part-way.
    private var failure: String?

    static var scriptPath: String {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidate = packageRoot.appendingPathComponent("scripts/bench-peers.sh").path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : "scripts/bench-peers.sh"
    }

    /// Starts the script and waits until its environment is built; nil,
    /// with the reason printed, when python3, venv or PyPI is missing.
    static func start(url: String) -> Peers? {
        let path = scriptPath
        guard FileManager.default.isExecutableFile(atPath: path) else {
            say("peers skipped: \(path) not found or not executable")
            return nil
        }
        // A script that died makes the next request's write fail with EPIPE,
        // which is handled below, instead of killing the bench with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [path, "--serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["REDIS_URL"] = url
        process.environment = environment
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-bench-peers-\(getpid()).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = (try? FileHandle(forWritingTo: log)) ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            say("peers skipped: could not start \(path): \(error)")
            return nil
        }
        let peers = Peers(process: process, requests: input.fileHandleForWriting,
                          replies: output.fileHandleForReading, log: log)
        guard peers.readLine() == "ready" else {
            process.waitUntilExit()
            say("peers skipped (python3/venv/pip failed, exit \(process.terminationStatus)): \(peers.complaints())")
            return nil
        }
        return peers
    }

    private init(process: Process, requests: FileHandle, replies: FileHandle, log: URL) {
        self.process = process
        self.requests = requests
        self.replies = replies
        self.log = log
    }

    /// The last lines of the script's standard error; removes its file.
    private func complaints() -> String {
        defer { try? FileManager.default.removeItem(at: log) }
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// One round: `cycles` timed cycles of each peer, added to its samples.
    func round(cycles: Int) {
        guard failure == nil else { return }
        for metric in Self.metrics {
            guard (try? requests.write(contentsOf: Data("\(metric) \(cycles)\n".utf8))) != nil,
                let line = readLine(), let reply = Self.parse(line, metric: metric)
            else {
                failure = "no reply to \(metric) \(cycles)"
                return
            }
            samples[metric, default: []] += reply
        }
    }

    /// Ends the script and reports each peer's samples.
    func finish(to report: Report) {
        try? requests.close()
        process.waitUntilExit()
        let stderr = complaints()
        if let failure {
            say("peers skipped: bench-peers.sh stopped (\(failure), exit \(process.terminationStatus)): \(stderr)")
            return
        }
        for metric in Self.metrics {
            guard let all = samples[metric], !all.isEmpty else { continue }
            report.add(Measurement(metric: metric, samples: all, elapsed: all.reduce(.zero, +),
                                   note: "python peer, n=\(all.count), in the cycles' rounds"))
        }
    }

    /// The next line the script printed, without its newline; nil at its end.
    private func readLine() -> String? {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = buffered[..<newline]
                buffered.removeSubrange(...newline)
                return String(decoding: line, as: UTF8.self)
            }
            let more = replies.availableData
            if more.isEmpty { return nil }
            buffered.append(more)
        }
    }

    /// `{"metric": METRIC, "samples_us": [...]}` as durations.
    private static func parse(_ line: String, metric: String) -> [Duration]? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
            object["metric"] as? String == metric,
            let values = object["samples_us"] as? [NSNumber]
        else { return nil }
        return values.map { .nanoseconds(Int64(($0.doubleValue * 1000).rounded())) }
    }
}
