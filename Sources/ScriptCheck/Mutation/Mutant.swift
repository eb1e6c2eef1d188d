/// A mutation operator: one kind of small, plausible bug planted in a
/// script to see whether the checker notices. The case order is the
/// enumeration order.
public enum MutationOperator: String, CaseIterable, Hashable, Sendable, Codable {
    /// A `redis.call` statement (not an expiry) replaced by `local _ = nil`.
    case dropCall = "drop-call"
    /// An expiry removed: a PEXPIRE/PEXPIREAT/EXPIRE/EXPIREAT statement, or
    /// a `'PX', n` / `'EX', n` / `'PXAT', n` / `'EXAT', n` argument pair.
    case dropExpiry = "drop-expiry"
    /// `==` ↔ `~=`.
    case flipEquality = "flip-equality"
    /// `<` ↔ `>`, `<=` ↔ `>=`.
    case flipComparison = "flip-comparison"
    /// `<` ↔ `<=`, `>` ↔ `>=` (off by one at the boundary).
    case comparisonBoundary = "comparison-boundary"
    /// `and` ↔ `or`.
    case flipLogical = "flip-logical"
    /// `if X then` → `if not (X) then` (also `elseif`).
    case negateCondition = "negate-if"
    /// Two elements of a returned table constructor `return {a, b, c}` swapped.
    case swapReturn = "swap-return"
    /// `'NX'` ↔ `'XX'`.
    case flipNXXX = "nx-xx"
    /// `KEYS[i]` → `KEYS[i±1]` (within the keys the header declares).
    case swapKeys = "swap-keys"
    /// A numeric literal shifted by +1 or −1 (KEYS indices excluded: swap-keys).
    case shiftNumber = "shift-number"
    /// `math.max` ↔ `math.min`.
    case swapMinMax = "min-max"
    /// `'GT'` ↔ `'LT'`: an expiry (or a ZADD score) moved only earlier
    /// instead of only later.
    case flipGTLT = "gt-lt"

    public var summary: String {
        switch self {
        case .dropCall: return "drop a redis.call statement"
        case .dropExpiry: return "drop an expiry (PEXPIREAT/PEXPIRE statement, 'PX', n argument)"
        case .flipEquality: return "== ↔ ~="
        case .flipComparison: return "< ↔ >, <= ↔ >="
        case .comparisonBoundary: return "< ↔ <=, > ↔ >="
        case .flipLogical: return "and ↔ or"
        case .negateCondition: return "if X then → if not (X) then"
        case .swapReturn: return "swap two elements of a returned table"
        case .flipNXXX: return "'NX' ↔ 'XX'"
        case .swapKeys: return "KEYS[i] → KEYS[i±1]"
        case .shiftNumber: return "numeric literal ± 1"
        case .swapMinMax: return "math.max ↔ math.min"
        case .flipGTLT: return "'GT' ↔ 'LT'"
        }
    }
}

/// One replacement of a byte range of the source.
public struct SourceEdit: Hashable, Sendable {
    public var range: Range<Int>
    public var replacement: String

    public init(_ range: Range<Int>, _ replacement: String) {
        self.range = range
        self.replacement = replacement
    }
}

/// One mutated script: which file, which operator, where, and what changed.
public struct Mutant: Hashable, Sendable {
    /// Position in the deterministic enumeration (0-based).
    public var index: Int
    public var operation: LockOperation
    public var mutationOperator: MutationOperator
    /// 1-based line of the first changed byte.
    public var line: Int
    /// The changed source line(s) before and after, whitespace-trimmed, on one line.
    public var original: String
    public var mutated: String
    /// The whole mutated script.
    public var source: [UInt8]

    public var file: String { operation.rawValue + ".lua" }

    /// The stable key that `equivalent-mutants.txt` names a mutant by: no
    /// line number, so edits elsewhere in the file keep it valid.
    public var key: EquivalenceKey {
        EquivalenceKey(file: file, mutationOperator: mutationOperator.rawValue, original: original, mutated: mutated)
    }

    /// `operator file:line: original → mutated`
    public var description: String { "\(mutationOperator.rawValue) \(file):\(line): \(original) → \(mutated)" }
}

/// How `equivalent-mutants.txt` identifies a mutant.
public struct EquivalenceKey: Hashable, Sendable {
    public var file: String
    public var mutationOperator: String
    public var original: String
    public var mutated: String

    public init(file: String, mutationOperator: String, original: String, mutated: String) {
        self.file = file
        self.mutationOperator = mutationOperator
        self.original = original
        self.mutated = mutated
    }
}

extension Mutant {
    /// Applies `edits` (non-overlapping) to `source` and describes the result.
    /// - Returns: nil when the edits change nothing.
    static func make(operation: LockOperation, mutationOperator: MutationOperator, source: [UInt8],
                     edits: [SourceEdit]) -> Mutant? {
        guard let first = edits.map(\.range.lowerBound).min(), let last = edits.map(\.range.upperBound).max() else { return nil }
        var mutatedSource = source
        for edit in edits.sorted(by: { $0.range.lowerBound > $1.range.lowerBound }) {
            mutatedSource.replaceSubrange(edit.range, with: Array(edit.replacement.utf8))
        }
        guard mutatedSource != source else { return nil }
        // The whole lines the edits touch, before and after.
        var lineStart = first
        while lineStart > 0, source[lineStart - 1] != UInt8(ascii: "\n") { lineStart -= 1 }
        var lineEnd = max(last, first)
        while lineEnd < source.count, source[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
        let delta = mutatedSource.count - source.count
        let before = oneLine(source[lineStart..<lineEnd])
        let after = oneLine(mutatedSource[lineStart..<(lineEnd + delta)])
        let line = 1 + source[..<first].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        return Mutant(index: 0, operation: operation, mutationOperator: mutationOperator, line: line,
                      original: before, mutated: after, source: mutatedSource)
    }

    /// Lines trimmed and joined with single spaces.
    private static func oneLine(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: true)
            .map { $0.trimmingCharacters(in: " \t\r") }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = self[...]
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
