import ArgumentParser

/// Parses a duration written `250ms`, `2s`, `1m` or `1h`: a positive whole
/// number and a unit. Zero, negative, unit-less and malformed ones are refused.
func parseDuration(_ text: String) throws -> Duration {
    try parseDuration(text, allowingZero: false)
}

/// ``parseDuration(_:)``, but `0` (with or without a unit) is accepted too,
/// for options where zero means "none" or "at once".
func parseDurationOrZero(_ text: String) throws -> Duration {
    if text == "0" { return .zero }
    return try parseDuration(text, allowingZero: true)
}

private func parseDuration(_ text: String, allowingZero: Bool) throws -> Duration {
    let units: [(suffix: String, scale: Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
    for unit in units where text.hasSuffix(unit.suffix) {
        let digits = text.dropLast(unit.suffix.count)
        // "ms" ends in "s": only accept the digits-then-unit form.
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
        guard let value = Int64(digits), value <= 999_999_999_999 / unit.scale else {
            throw ValidationError("the duration \(text.debugDescription) is too long")
        }
        guard value > 0 || allowingZero else { throw ValidationError("the duration \(text.debugDescription) must be positive") }
        return .milliseconds(value * unit.scale)
    }
    throw ValidationError(
        "\(text.debugDescription) is not a duration; write a positive whole number and a unit: 250ms, 2s, 1m, 1h")
}
