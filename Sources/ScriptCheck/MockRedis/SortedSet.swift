/// A sorted set with Redis's order: ascending score, ties broken by member
/// bytes compared with memcmp (shorter prefix first), as `zslInsert` and the
/// listpack encoding do.
///
/// Equality and hashing use the member→score map (scores compared bit for
/// bit, so -0 and 0 differ, as ZSCORE shows them) and the encoding, since the
/// ordered array is a pure function of them; two sets built in different
/// orders are therefore equal and hash alike.
///
/// The encoding matters for one observable thing: a listpack stores -0 as 0,
/// a skiplist keeps -0 (found by the fidelity suite against Redis 7.0.15).
struct SortedSet: Hashable, Sendable {
    /// Redis's defaults `zset-max-listpack-entries` / `zset-max-listpack-value`.
    static let maxListpackEntries = 128
    static let maxListpackValue = 64
    struct Element: Hashable, Sendable {
        var member: [UInt8]
        var score: Double
    }

    private(set) var scores: [RedisKey: Double] = [:]
    /// Kept sorted by `precedes`; scores contain no NaN (Redis refuses NaN
    /// scores), so `<` on Double is a total order here.
    private(set) var ordered: [Element] = []

    /// True once Redis would hold this set as a skiplist. It never goes back
    /// to a listpack through the commands the mock models (ZREM and
    /// ZREMRANGEBYSCORE do not convert back; only *STORE commands do).
    private(set) var isSkiplist = false

    var count: Int { scores.count }
    var isEmpty: Bool { scores.isEmpty }

    /// The set ZADD creates for a new key: Redis 7.0's zaddGenericCommand
    /// picks the encoding from the *first* member's length only.
    init(firstMember: [UInt8]? = nil) {
        isSkiplist = (firstMember?.count ?? 0) > Self.maxListpackValue
    }

    static func == (a: SortedSet, b: SortedSet) -> Bool {
        a.isSkiplist == b.isSkiplist && a.scores.count == b.scores.count
            && a.scores.allSatisfy { b.scores[$0.key]?.bitPattern == $0.value.bitPattern }
    }

    static func precedes(_ a: Element, _ b: Element) -> Bool {
        if a.score != b.score { return a.score < b.score }
        return a.member.lexicographicallyPrecedes(b.member)
    }

    func score(of member: [UInt8]) -> Double? { scores[RedisKey(member)] }

    /// Index of the first element not preceding `e` (binary search).
    private func insertionIndex(_ e: Element) -> Int {
        var lo = 0, hi = ordered.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if SortedSet.precedes(ordered[mid], e) { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Inserts or moves `member` to `score`.
    mutating func set(_ member: [UInt8], score rawScore: Double) {
        // zsetAdd converts a listpack to a skiplist before inserting a *new*
        // member that would make it too long or that is itself too long;
        // updating an existing member never converts.
        if !isSkiplist, scores[RedisKey(member)] == nil,
           scores.count + 1 > Self.maxListpackEntries || member.count > Self.maxListpackValue {
            isSkiplist = true
        }
        // A listpack stores -0 as 0, so Redis 7.0 reports 0; a skiplist keeps
        // the double as given and reports "-0".
        let score = rawScore == 0 && !isSkiplist ? 0.0 : rawScore
        remove(member)
        let e = Element(member: member, score: score)
        ordered.insert(e, at: insertionIndex(e))
        scores[RedisKey(member)] = score
    }

    @discardableResult
    mutating func remove(_ member: [UInt8]) -> Bool {
        guard let old = scores.removeValue(forKey: RedisKey(member)) else { return false }
        let i = insertionIndex(Element(member: member, score: old))
        ordered.remove(at: i)
        return true
    }

    /// Elements whose score lies within the given bounds, in ascending order.
    func indices(in range: ScoreRange) -> Range<Int> {
        var lo = 0
        while lo < ordered.count && !range.aboveMin(ordered[lo].score) { lo += 1 }
        var hi = lo
        while hi < ordered.count && range.belowMax(ordered[hi].score) { hi += 1 }
        return lo..<hi
    }

    subscript(i: Int) -> Element { ordered[i] }
}

/// A parsed `min max` pair of ZRANGEBYSCORE-like commands (Redis `zrangespec`).
struct ScoreRange: Sendable {
    var min: Double
    var max: Double
    var minExclusive: Bool
    var maxExclusive: Bool

    func aboveMin(_ v: Double) -> Bool { minExclusive ? v > min : v >= min }
    func belowMax(_ v: Double) -> Bool { maxExclusive ? v < max : v <= max }

    /// Redis `zslParseRange`; nil means "ERR min or max is not a float".
    static func parse(min: [UInt8], max: [UInt8]) -> ScoreRange? {
        guard let lo = RedisNumbers.parseScoreBound(min),
              let hi = RedisNumbers.parseScoreBound(max) else { return nil }
        return ScoreRange(min: lo.value, max: hi.value,
                          minExclusive: lo.exclusive, maxExclusive: hi.exclusive)
    }
}
