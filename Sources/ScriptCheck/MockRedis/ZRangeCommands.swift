/// ZRANGE and ZRANGEBYSCORE, following Redis 7.0's `zrangeGenericCommand`.
extension MockRedis {
    private enum RangeKind { case rank, score, lex }

    /// For ZRANGEBYSCORE (`rangeByScoreCommand`) the range kind and
    /// direction are implied by the command name, so REV/BYSCORE/BYLEX are
    /// syntax errors there; ZRANGE accepts each of them once.
    mutating func zrangeGeneric(_ a: [[UInt8]], rangeByScoreCommand: Bool) throws(MockRedisError) -> RedisReply {
        var kind: RangeKind? = rangeByScoreCommand ? .score : nil
        var reverse: Bool? = rangeByScoreCommand ? false : nil
        var withScores = false
        var offset: Int64 = 0
        var limit: Int64 = -1

        var j = 4
        while j < a.count {
            let left = a.count - j - 1
            let opt = a[j].optionKeyword
            if opt == "withscores" {
                withScores = true
            } else if opt == "limit" && left >= 2 {
                guard let o = RedisNumbers.parseInt64(a[j + 1]),
                      let l = RedisNumbers.parseInt64(a[j + 2]) else { throw .notInteger }
                offset = o
                limit = l
                j += 2
            } else if reverse == nil && opt == "rev" {
                reverse = true
            } else if kind == nil && opt == "bylex" {
                kind = .lex
            } else if kind == nil && opt == "byscore" {
                kind = .score
            } else {
                throw .syntax
            }
            j += 1
        }
        let rangeKind = kind ?? .rank
        let isReverse = reverse ?? false

        // Redis tests `opt_limit != -1`, so an explicit "LIMIT x -1" slips
        // through with a rank range.
        if limit != -1 && rangeKind == .rank {
            throw MockRedisError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        }
        if withScores && rangeKind == .lex {
            throw MockRedisError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        }

        // Reverse score and lex ranges are written max first.
        let (minArg, maxArg) = isReverse && rangeKind != .rank ? (a[3], a[2]) : (a[2], a[3])
        switch rangeKind {
        case .rank:
            guard let start = RedisNumbers.parseInt64(minArg),
                  let end = RedisNumbers.parseInt64(maxArg) else { throw .notInteger }
            guard let z = try readZSet(a[1]) else { return .array([]) }
            return .array(Self.byRank(z, start: start, end: end, reverse: isReverse, withScores: withScores))
        case .score:
            guard let range = ScoreRange.parse(min: minArg, max: maxArg) else { throw .minMaxNotFloat }
            guard let z = try readZSet(a[1]) else { return .array([]) }
            return .array(Self.byScore(z, range, offset: offset, limit: limit,
                                       reverse: isReverse, withScores: withScores))
        case .lex:
            throw MockRedisError("ERR mock redis does not model command 'zrange' with BYLEX")
        }
    }

    private static func emit(_ e: SortedSet.Element, withScores: Bool, into out: inout [RedisReply]) {
        out.append(.bulk(e.member))
        if withScores { out.append(.bulk(RedisNumbers.formatDouble(e.score))) }
    }

    /// Redis `genericZrangebyrankCommand`: negative indexes count from the
    /// end, a start before the beginning is clamped, an end past it too.
    private static func byRank(_ z: SortedSet, start s: Int64, end e: Int64, reverse: Bool, withScores: Bool) -> [RedisReply] {
        let length = Int64(z.count)
        var start = s, end = e
        if start < 0 { start += length }
        if end < 0 { end += length }
        if start < 0 { start = 0 }
        if start > end || start >= length { return [] }
        if end >= length { end = length - 1 }
        var out: [RedisReply] = []
        for rank in start...end {
            let index = reverse ? Int(length - 1 - rank) : Int(rank)
            emit(z[index], withScores: withScores, into: &out)
        }
        return out
    }

    /// Redis `genericZrangebyscoreCommand`. The offset skips elements in the
    /// range; a negative offset walks off the end (empty result), a negative
    /// limit means no limit.
    private static func byScore(_ z: SortedSet, _ range: ScoreRange, offset: Int64, limit: Int64,
                                reverse: Bool, withScores: Bool) -> [RedisReply] {
        if offset > 0 && offset >= Int64(z.count) { return [] }
        if offset < 0 { return [] }
        var indices = Array(z.indices(in: range))
        if reverse { indices.reverse() }
        var out: [RedisReply] = []
        var remaining = limit
        for index in indices.dropFirst(Int(offset)) {
            if remaining == 0 { break }
            emit(z[index], withScores: withScores, into: &out)
            remaining -= 1
        }
        return out
    }
}
