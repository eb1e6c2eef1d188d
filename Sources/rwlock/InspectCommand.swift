import ArgumentParser
import Foundation
import RWLock

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show lock NAME's holders, waiting writers (in the order they will be served) and last fence.",
        discussion: """
            --json prints one object: {"lock", "writer": null or {"token", "lease_ms_left", "fence"}, \
            "readers": [{"token", "lease_ms_left"}], "waiting": [{"token", "intent_ms_left"}], \
            "last_fence": null or a number}.
            """)
    @OptionGroup var options: LockOptions
    @Flag(help: "Print a JSON object instead of a table.") var json = false

    func run() async throws {
        let snapshot: RWLock.Snapshot
        do {
            snapshot = try await options.lock().inspect()
        } catch {
            Exit.fail(error)
        }
        print(json ? jsonText(snapshot) : table(snapshot), terminator: "")
    }

    func jsonText(_ snapshot: RWLock.Snapshot) -> String {
        let object: [String: Any] = [
            "lock": options.name,
            "writer": snapshot.writer.map {
                ["token": $0.token, "lease_ms_left": $0.leaseMillisecondsLeft, "fence": $0.fence.value] as [String: Any]
            } ?? NSNull(),
            "readers": snapshot.readers.map { ["token": $0.token, "lease_ms_left": $0.millisecondsLeft] as [String: Any] },
            "waiting": snapshot.waiting.map { ["token": $0.token, "intent_ms_left": $0.millisecondsLeft] as [String: Any] },
            "last_fence": snapshot.lastFence.map { $0.value as Any } ?? NSNull(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func table(_ snapshot: RWLock.Snapshot) -> String {
        var rows: [(String, String, String, String)] = []
        if let writer = snapshot.writer {
            rows.append(("write", writer.token, "\(writer.leaseMillisecondsLeft) ms", String(writer.fence.value)))
        }
        for reader in snapshot.readers { rows.append(("read", reader.token, "\(reader.millisecondsLeft) ms", "-")) }
        for (position, waiter) in snapshot.waiting.enumerated() {
            rows.append(("waiting #\(position + 1)", waiter.token, "\(waiter.millisecondsLeft) ms", "-"))
        }
        var text = "lock \(options.name): "
        text += snapshot.writer != nil ? "write-held" : snapshot.readers.isEmpty ? "free" : "read-held by \(snapshot.readers.count)"
        text += ", \(snapshot.waiting.count) writer(s) waiting, last fence \(snapshot.lastFence.map { String($0.value) } ?? "none")\n"
        guard !rows.isEmpty else { return text }
        let header = ("MODE", "TOKEN", "LEFT", "FENCE")
        let widths = (rows + [header]).reduce(into: (0, 0, 0)) { width, row in
            width = (max(width.0, row.0.count), max(width.1, row.1.count), max(width.2, row.2.count))
        }
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: width - text.count) }
        for row in [header] + rows {
            text += "\(pad(row.0, widths.0))  \(pad(row.1, widths.1))  \(pad(row.2, widths.2))  \(row.3)\n"
        }
        return text
    }
}
