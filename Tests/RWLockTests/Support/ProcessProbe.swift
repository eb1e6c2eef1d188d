import Foundation

/// Facts about processes and files that the field-safety tests wait on and
/// assert: whether a pid still runs, timestamps that jobs wrote.
enum ProcessProbe {
    /// Whether `pid` is a process that has not exited. A zombie (exited, not
    /// yet reaped by its new parent) runs no code and does not count.
    static func isRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// The pid a job wrote to `path`.
    static func pid(in path: String) -> pid_t? {
        (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Nanosecond wall-clock timestamps (`date +%s%N`), one per line, as the
    /// jobs of these tests write them. Every process writing them runs on
    /// this machine, so they share one clock.
    static func timestamps(in path: String) -> [Int64] {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(whereSeparator: \.isNewline).compactMap { Int64($0) }
    }

    /// Polls until `condition` holds or `limit` passes: the tests wait for a
    /// state (a file written, a lock held), never for a guessed time.
    static func eventually(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return try await condition()
    }

    /// A fresh directory for one test's files.
    static func directory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rwlock-fs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The port of a `redis://host:port` URL.
    static func port(of url: String) -> UInt16? {
        url.split(separator: ":").last.flatMap { UInt16($0.prefix(while: \.isNumber)) }
    }
}

/// The job of the partition and restart scenarios, as `sh -c` arguments: a
/// shell that takes a second to stop on SIGTERM, with a child shell doing
/// the work, whose `date` processes (COMMAND's grandchildren) append a
/// timestamp to `$1` every 10 ms. `$2` gets the worker's pid; `$3` the time
/// the shell got SIGTERM. A kill of COMMAND's pid alone leaves the worker
/// running; only a kill of the group stops it.
let slowToStopJob = [
    "sh", "-c",
    """
    sh -c 'while :; do date +%s%N >> "$1"; sleep 0.01; done' worker "$1" &
    echo $! > "$2"
    trap 'date +%s%N > "$3"; sleep 1; exit 0' TERM
    while :; do sleep 0.05; done
    """,
    "job",
]

extension ProcessProbe {
    /// The process group of `pid`, from /proc.
    static func processGroup(of pid: pid_t) -> pid_t? {
        statFields(of: pid).flatMap { $0.count > 2 ? pid_t($0[2]) : nil }
    }

    /// The processes of group `group` that run (zombies do not).
    static func liveMembers(ofGroup group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let fields = statFields(of: pid), fields.count > 2 else { return false }
            return pid_t(fields[2]) == group && fields[0] != "Z" && fields[0] != "X"
        }
    }

    /// `pid`'s state letter: R running, S sleeping, T stopped, Z zombie…
    static func state(of pid: pid_t) -> String? {
        statFields(of: pid)?.first
    }

    /// The arguments `pid` runs with.
    static func arguments(of pid: pid_t) -> [String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return [] }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// What `pid`'s open descriptors point at (`socket:[…]`, `pipe:[…]`, paths).
    static func openDescriptors(of pid: pid_t) -> [String] {
        let directory = "/proc/\(pid)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)") }
    }

    /// "S ppid pgrp …": the fields of /proc/PID/stat after the command name.
    private static func statFields(of pid: pid_t) -> [String]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").map(String.init)
    }
}
