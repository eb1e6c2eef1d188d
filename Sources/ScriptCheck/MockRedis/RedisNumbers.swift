#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Number parsing and formatting that matches Redis 7.0 byte for byte.
///
/// Redis leans on libc (`strtod`, `snprintf("%.17g")`) for doubles, so the
/// mock calls the same libc functions instead of reimplementing them: hex
/// floats, "infinity", denormals and rounding then behave as on the server.
enum RedisNumbers {
    /// Redis `string2ll`: the only accepted spellings are the canonical
    /// decimal ones. No '+', no spaces, no leading zeros, no "-0", at most
    /// 20 bytes, and the value must fit in an int64.
    static func parseInt64(_ s: [UInt8]) -> Int64? {
        // LONG_STR_SIZE is 21: longer strings are rejected before parsing.
        if s.isEmpty || s.count >= 21 { return nil }
        if s.count == 1 && s[0] == UInt8(ascii: "0") { return 0 }
        var i = 0
        var negative = false
        if s[0] == UInt8(ascii: "-") {
            negative = true
            i = 1
            if i == s.count { return nil }
        }
        guard s[i] >= UInt8(ascii: "1") && s[i] <= UInt8(ascii: "9") else { return nil }
        var v = UInt64(s[i] - UInt8(ascii: "0"))
        i += 1
        while i < s.count {
            let c = s[i]
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            if o1 { return nil }
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            if o2 { return nil }
            v = a
            i += 1
        }
        if negative {
            if v > UInt64(Int64.max) + 1 { return nil }
            return v == UInt64(Int64.max) + 1 ? Int64.min : -Int64(v)
        }
        if v > UInt64(Int64.max) { return nil }
        return Int64(v)
    }

    /// Runs libc `strtod` on `s` (NUL-terminated, as an sds string is) and
    /// returns the value, how many bytes it consumed, and whether it set ERANGE.
    private static func strtodBytes(_ s: [UInt8]) -> (value: Double, consumed: Int, rangeError: Bool) {
        var buf = s.map { CChar(bitPattern: $0) }
        buf.append(0)
        return buf.withUnsafeMutableBufferPointer { p in
            let base = p.baseAddress!
            var end: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let d = strtod(base, &end)
            let rangeError = errno == ERANGE
            return (d, end.map { $0 - base } ?? 0, rangeError)
        }
    }

    /// Redis `string2d` (scores of ZADD): strtod must consume every byte, a
    /// leading space is refused (strtod would skip it), overflow to ±HUGE_VAL
    /// and underflow to zero are refused (denormals pass), and NaN is refused.
    static func parseDouble(_ s: [UInt8]) -> Double? {
        guard let first = s.first, !isCSpace(first) else { return nil }
        let r = strtodBytes(s)
        if r.consumed != s.count { return nil }
        if r.rangeError && (r.value == .infinity || r.value == -.infinity || r.value == 0) { return nil }
        if r.value.isNaN { return nil }
        return r.value
    }

    /// One bound of ZRANGEBYSCORE/ZREMRANGEBYSCORE (Redis `zslParseRange`).
    /// This path is laxer than `string2d`: plain strtod, only checks that it
    /// stopped at a NUL and the result is not NaN. So "" and "(" mean 0,
    /// leading spaces and "1e999" are accepted, and bytes after an embedded
    /// NUL are ignored.
    static func parseScoreBound(_ s: [UInt8]) -> (value: Double, exclusive: Bool)? {
        var body = s
        var exclusive = false
        if body.first == UInt8(ascii: "(") {
            exclusive = true
            body.removeFirst()
        }
        let r = strtodBytes(body)
        let stoppedAtNul = r.consumed == body.count || body[r.consumed] == 0
        if !stoppedAtNul || r.value.isNaN { return nil }
        return (r.value, exclusive)
    }

    /// Redis 7.0 `addReplyDouble` for RESP2: "inf"/"-inf" spelled out, every
    /// other value printed with "%.17g" (so 0.1 is "0.10000000000000001").
    static func formatDouble(_ d: Double) -> [UInt8] {
        if d.isInfinite { return Array((d > 0 ? "inf" : "-inf").utf8) }
        // Integral values print the same under %.17g as in decimal (scores
        // are mostly server milliseconds); -0 prints as "-0", so it takes printf.
        if d == d.rounded(.towardZero), abs(d) < 1e15, !(d == 0 && d.sign == .minus) { return formatInt(Int64(d)) }
        var buf = [CChar](repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBufferPointer { p in
            withVaList([d]) { vsnprintf(p.baseAddress!, 64, "%.17g", $0) }
        }
        return buf[0..<Int(n)].map { UInt8(bitPattern: $0) }
    }

    static func formatInt(_ v: Int64) -> [UInt8] { Array(String(v).utf8) }

    /// C `isspace` in the "C" locale, which Redis's string2d checks first.
    static func isCSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0d)
    }

    /// Redis's overflow guard for INCRBY/DECRBY/HINCRBY, which rejects the
    /// operation instead of wrapping.
    static func checkedAdd(_ old: Int64, _ incr: Int64) -> Int64? {
        if (incr < 0 && old < 0 && incr < Int64.min - old) ||
            (incr > 0 && old > 0 && incr > Int64.max - old) {
            return nil
        }
        return old + incr
    }
}

extension Array where Element == UInt8 {
    /// ASCII-lowercased text, for case-insensitive option and command names
    /// (Redis compares them with strcasecmp).
    var lowercasedASCII: String {
        String(decoding: self.map { ($0 >= 65 && $0 <= 90) ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// An option keyword as Redis's strcasecmp sees it: the argument is a C
    /// string there, so an embedded NUL ends the comparison ("nx\0junk" is NX).
    var optionKeyword: String {
        let end = self.firstIndex(of: 0) ?? self.count
        return Array(self[0..<end]).lowercasedASCII
    }
}
