import Foundation

/// One benchmark figure: latency percentiles from sorted samples and/or a
/// rate. Printed as a table row and as one JSON line.
struct Measurement: Sendable {
    var metric: String
    var p50: Double? = nil
    var p99: Double? = nil
    var opsPerSecond: Double? = nil
    /// Free text for the table only (sample count, notes).
    var note: String = ""

    /// Percentiles (µs) from latency samples, and the rate they imply when
    /// `elapsed` (wall time of the whole series) is given.
    init(metric: String, samples: [Duration], elapsed: Duration? = nil, note: String = "") {
        self.metric = metric
        let sorted = samples.map(\.microseconds).sorted()
        self.p50 = Self.percentile(sorted, 0.50)
        self.p99 = Self.percentile(sorted, 0.99)
        if let elapsed, elapsed > .zero { self.opsPerSecond = Double(samples.count) / elapsed.seconds }
        self.note = note.isEmpty ? "n=\(samples.count)" : note
    }

    init(metric: String, count: Int, elapsed: Duration, note: String = "") {
        self.metric = metric
        self.opsPerSecond = Double(count) / elapsed.seconds
        self.note = note
    }

    init(metric: String, p50: Double?, p99: Double?, opsPerSecond: Double?, note: String) {
        self.metric = metric
        self.p50 = p50
        self.p99 = p99
        self.opsPerSecond = opsPerSecond
        self.note = note
    }

    /// Nearest-rank percentile of ascending `sorted`.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    var json: String {
        var fields = ["\"metric\": \"\(metric)\""]
        if let p50 { fields.append("\"p50_us\": \(Self.format(p50))") }
        if let p99 { fields.append("\"p99_us\": \(Self.format(p99))") }
        if let opsPerSecond { fields.append("\"ops_per_s\": \(Self.format(opsPerSecond))") }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    var row: String {
        func cell(_ value: Double?) -> String { value.map { Self.format($0) } ?? "-" }
        return metric.padding(toLength: 34, withPad: " ", startingAt: 0)
            + cell(p50).leftPadded(10) + cell(p99).leftPadded(10) + cell(opsPerSecond).leftPadded(12) + "  " + note
    }

    static let header = "metric".padding(toLength: 34, withPad: " ", startingAt: 0)
        + "p50_us".leftPadded(10) + "p99_us".leftPadded(10) + "ops_per_s".leftPadded(12)

    static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}

/// Collects measurements, printing each as it is made: the table row, then
/// its JSON line.
final class Report {
    private(set) var all: [String: Measurement] = [:]
    private(set) var order: [String] = []

    func add(_ measurement: Measurement) {
        if all[measurement.metric] == nil { order.append(measurement.metric) }
        all[measurement.metric] = measurement
        say(measurement.row)
        say(measurement.json)
    }

    func section(_ title: String) {
        say("\n== \(title)")
        say(Measurement.header)
    }

    subscript(_ metric: String) -> Measurement? { all[metric] }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
    var microseconds: Double { seconds * 1e6 }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// Times `body` once.
func timed(_ body: () async throws -> Void) async rethrows -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    try await body()
    return clock.now - start
}

/// Prints a line unbuffered, so progress shows when the output is piped.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
