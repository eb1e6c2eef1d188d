/// Sorted-set commands, following Redis 7.0's t_zset.c.
extension MockRedis {
    /// Redis `zaddGenericCommand`. Everything that can fail with a syntax or
    /// number error is checked before the key is touched, so a failing ZADD
    /// changes nothing.
    mutating func zadd(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        let key = a[1]
        var nx = false, xx = false, ch = false, incr = false, gt = false, lt = false
        var scoreIndex = 2
        // Options are only recognised before the first score; the first
        // argument that is not an option starts the score/member pairs.
        optionLoop: while scoreIndex < a.count {
            switch a[scoreIndex].optionKeyword {
            case "nx": nx = true
            case "xx": xx = true
            case "ch": ch = true
            case "incr": incr = true
            case "gt": gt = true
            case "lt": lt = true
            default: break optionLoop
            }
            scoreIndex += 1
        }
        let rest = a.count - scoreIndex
        if rest == 0 || rest % 2 != 0 { throw .syntax }
        if nx && xx {
            throw MockRedisError("ERR XX and NX options at the same time are not compatible")
        }
        if (gt && nx) || (lt && nx) || (gt && lt) {
            throw MockRedisError("ERR GT, LT, and/or NX options at the same time are not compatible")
        }
        let pairs = rest / 2
        if incr && pairs > 1 {
            throw MockRedisError("ERR INCR option supports a single increment-element pair")
        }
        var scores: [Double] = []
        for i in 0..<pairs {
            guard let s = RedisNumbers.parseDouble(a[scoreIndex + 2 * i]) else { throw .notFloat }
            scores.append(s)
        }

        let existing = try readZSet(key)
        var z = existing ?? SortedSet(firstMember: a[scoreIndex + 1])
        var added: Int64 = 0, updated: Int64 = 0, processed = 0
        var replyScore = 0.0
        // XX on a missing key is a no-op that never creates the key.
        if existing != nil || !xx {
            for i in 0..<pairs {
                let member = a[scoreIndex + 2 * i + 1]
                var score = scores[i]
                if let current = z.score(of: member) {
                    if nx { continue }
                    if incr {
                        score += current
                        if score.isNaN {
                            throw MockRedisError("ERR resulting score is not a number (NaN)")
                        }
                    }
                    if (lt && score >= current) || (gt && score <= current) { continue }
                    replyScore = score
                    processed += 1
                    // -0 and 0 compare equal, so this is not an update.
                    if score != current {
                        z.set(member, score: score)
                        updated += 1
                    }
                } else if !xx {
                    z.set(member, score: score)
                    replyScore = score
                    processed += 1
                    added += 1
                }
            }
            if added + updated > 0 { storeKeepingTTL(key, .zset(z)) }
        }
        if incr {
            // ZADD INCR replies with the computed score (before the storage
            // normalisation of -0), or nil when nothing was applied.
            return processed > 0 ? .bulk(RedisNumbers.formatDouble(replyScore)) : .null
        }
        return .integer(ch ? added + updated : added)
    }

    mutating func zrem(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard var z = try readZSet(a[1]) else { return .integer(0) }
        var removed: Int64 = 0
        for member in a.dropFirst(2) where z.remove(member) { removed += 1 }
        if removed > 0 { storeAggregate(a[1], .zset(z), isEmpty: z.isEmpty) }
        return .integer(removed)
    }

    mutating func zscore(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let s = try readZSet(a[1])?.score(of: a[2]) else { return .null }
        return .bulk(RedisNumbers.formatDouble(s))
    }

    mutating func zcard(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        .integer(Int64(try readZSet(a[1])?.count ?? 0))
    }

    mutating func zremrangebyscore(_ a: [[UInt8]]) throws(MockRedisError) -> RedisReply {
        guard let range = ScoreRange.parse(min: a[2], max: a[3]) else { throw .minMaxNotFloat }
        guard var z = try readZSet(a[1]) else { return .integer(0) }
        let doomed = z.indices(in: range).map { z[$0].member }
        for member in doomed { z.remove(member) }
        if !doomed.isEmpty { storeAggregate(a[1], .zset(z), isEmpty: z.isEmpty) }
        return .integer(Int64(doomed.count))
    }
}
