import Foundation

/// The Python peers (redis-py's Lock, python-redis-lock: mutex cycles; neither
/// is an RW lock), run by scripts/bench-peers.sh in a throwaway virtual
/// environment against the same server; its JSON lines are merged.
enum Peers {
    static var scriptPath: String {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let candidate = packageRoot.appendingPathComponent("scripts/bench-peers.sh").path
        return FileManager.default.fileExists(atPath: candidate) ? candidate : "scripts/bench-peers.sh"
    }

    static func run(url: String, cycles: Int, report: Report) {
        let path = scriptPath
        guard FileManager.default.isExecutableFile(atPath: path) else {
            say("peers skipped: \(path) not found or not executable")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [path, String(cycles)]
        var environment = ProcessInfo.processInfo.environment
        environment["REDIS_URL"] = url
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            say("peers skipped: could not start \(path): \(error)")
            return
        }
        // Read both pipes to the end before waiting, so neither fills up.
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { Thread.sleep(forTimeInterval: 0.01) }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        let parsed = lines.compactMap(Measurement.parse(jsonLine:))
        parsed.forEach(report.add)
        if process.terminationStatus != 0 || parsed.isEmpty {
            let stderr = String(decoding: errorData.data, as: UTF8.self)
            say("peers skipped (python3/venv/pip failed, exit \(process.terminationStatus)): "
                  + stderr.split(separator: "\n").suffix(3).joined(separator: " | "))
        }
    }
}

/// Bytes handed from the stderr reader thread.
final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Data?
    func set(_ data: Data) { lock.withLock { stored = data } }
    var isSet: Bool { lock.withLock { stored != nil } }
    var data: Data { lock.withLock { stored ?? Data() } }
}
