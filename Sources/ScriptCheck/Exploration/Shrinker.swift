/// Shrinks a failing schedule to a short one that still breaks the same
/// invariant: drop steps, then simplify the ones left (a lost reply becomes
/// a received one, a time jump gets shorter), until nothing more helps.
enum Shrinker {
    static func shrink(_ actions: [Action], invariant: String, fails: ([Action]) -> Violation?) -> [Action] {
        var current = actions
        func stillFails(_ candidate: [Action]) -> Bool { fails(candidate)?.invariant == invariant }
        guard stillFails(current) else { return current }
        var improved = true
        while improved {
            improved = false
            // Drop chunks, largest first (delta debugging), then single steps.
            var chunk = max(1, current.count / 2)
            while chunk >= 1 {
                var start = 0
                while start < current.count {
                    var candidate = current
                    candidate.removeSubrange(start..<min(start + chunk, current.count))
                    if stillFails(candidate) {
                        current = candidate
                        improved = true
                    } else {
                        start += chunk
                    }
                }
                chunk /= 2
            }
            for index in current.indices {
                for simpler in simplifications(of: current[index]) {
                    var candidate = current
                    candidate[index] = simpler
                    if stillFails(candidate) {
                        current = candidate
                        improved = true
                        break
                    }
                }
            }
        }
        return current
    }

    private static func simplifications(of action: Action) -> [Action] {
        switch action {
        case .call(let client, let operation, true): return [.call(client: client, operation: operation, lostReply: false)]
        case .advance(let milliseconds) where milliseconds > 1: return [.advance(milliseconds: milliseconds / 2)]
        default: return []
        }
    }
}
