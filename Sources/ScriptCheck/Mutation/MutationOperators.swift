/// Enumerates the mutants of the lock's scripts: every operator of
/// `MutationOperator` at every place it applies, on code tokens only (never
/// inside comments, and inside string literals only for the literals an
/// operator is about: `'NX'`/`'XX'`, `'GT'`/`'LT'` and expiry options). The order is
/// deterministic: file by file (sorted by name), operator by operator in
/// `MutationOperator.allCases` order, then by position in the source.
public enum MutationOperators {
    /// Commands whose whole statement `drop-expiry` removes (and `drop-call` leaves alone).
    static let expiryCommands: Set<String> = ["PEXPIRE", "PEXPIREAT", "EXPIRE", "EXPIREAT"]
    /// SET options that carry an expiry and take one value.
    static let expiryOptions: Set<String> = ["PX", "EX", "PXAT", "EXAT"]

    /// Every mutant of every script in `sources`, numbered in enumeration order.
    public static func mutants(of sources: [LockOperation: [UInt8]],
                               operators: [MutationOperator] = MutationOperator.allCases) -> [Mutant] {
        var all: [Mutant] = []
        for operation in LockOperation.allCases.sorted() {
            guard let source = sources[operation] else { continue }
            all += mutants(of: source, operation: operation, operators: operators)
        }
        for index in all.indices { all[index].index = index }
        return all
    }

    /// The mutants of one script. A mutant identical to an earlier one of
    /// the same script (or to the original) is left out.
    public static func mutants(of source: [UInt8], operation: LockOperation,
                               operators: [MutationOperator] = MutationOperator.allCases) -> [Mutant] {
        let code = LuaLexer.tokens(source).filter { $0.kind != .comment }
        let declaredKeys = Set(ScriptHeader(parsing: source).keys.keys)
        var seen: Set<[UInt8]> = [source]
        var result: [Mutant] = []
        for mutationOperator in operators {
            for edits in edits(mutationOperator, code: code, declaredKeys: declaredKeys) {
                guard let mutant = Mutant.make(operation: operation, mutationOperator: mutationOperator,
                                               source: source, edits: edits),
                      seen.insert(mutant.source).inserted else { continue }
                result.append(mutant)
            }
        }
        return result
    }

    /// The edit sets one operator makes, one per mutant, in source order.
    static func edits(_ mutationOperator: MutationOperator, code: [LuaToken], declaredKeys: Set<Int>) -> [[SourceEdit]] {
        switch mutationOperator {
        case .dropCall: return callStatements(code).filter { !$0.isExpiry }.map { [SourceEdit($0.range, "local _ = nil")] }
        case .dropExpiry: return dropExpiry(code)
        case .flipEquality: return replacing(code, [("==", "~="), ("~=", "==")])
        case .flipComparison: return replacing(code, [("<", ">"), (">", "<"), ("<=", ">="), (">=", "<=")])
        case .comparisonBoundary: return replacing(code, [("<", "<="), ("<=", "<"), (">", ">="), (">=", ">")])
        case .flipLogical:
            return code.filter { $0.isKeyword("and") || $0.isKeyword("or") }
                .map { [SourceEdit($0.range, $0.text == "and" ? "or" : "and")] }
        case .negateCondition: return negateConditions(code)
        case .swapReturn: return swapReturns(code)
        case .flipNXXX: return flippingLiterals(code, "NX", "XX")
        case .flipGTLT: return flippingLiterals(code, "GT", "LT")
        case .swapKeys: return swapKeys(code, declaredKeys: declaredKeys)
        case .shiftNumber: return shiftNumbers(code)
        case .swapMinMax:
            var edits: [[SourceEdit]] = []
            for i in code.indices.dropLast(2) where code[i].kind == .name && code[i].text == "math" && code[i + 1].isSymbol(".") {
                let name = code[i + 2]
                if name.kind == .name, name.text == "max" { edits.append([SourceEdit(name.range, "min")]) }
                if name.kind == .name, name.text == "min" { edits.append([SourceEdit(name.range, "max")]) }
            }
            return edits
        }
    }

    // MARK: Helpers

    /// Every string literal that is exactly `a` or `b` (either all upper or
    /// all lower case) turned into the other, one mutant each.
    private static func flippingLiterals(_ code: [LuaToken], _ a: String, _ b: String) -> [[SourceEdit]] {
        let flips = [a: b, b: a, a.lowercased(): b.lowercased(), b.lowercased(): a.lowercased()]
        return code.compactMap { token -> [SourceEdit]? in
            guard let contents = token.quotedContents, let flipped = flips[contents] else { return nil }
            let quote = String(token.text.first!)
            return [SourceEdit(token.range, quote + flipped + quote)]
        }
    }

    private static func replacing(_ code: [LuaToken], _ pairs: [(String, String)]) -> [[SourceEdit]] {
        var edits: [[SourceEdit]] = []
        for token in code where token.kind == .symbol {
            for (from, to) in pairs where token.text == from { edits.append([SourceEdit(token.range, to)]) }
        }
        return edits
    }

    /// The index of the bracket closing the one at `open`, or nil.
    static func matching(_ code: [LuaToken], from open: Int) -> Int? {
        let pairs: [String: String] = ["(": ")", "[": "]", "{": "}"]
        var depth = 0
        for index in open..<code.count where code[index].kind == .symbol {
            if pairs[code[index].text] != nil { depth += 1 }
            if pairs.values.contains(code[index].text) {
                depth -= 1
                if depth == 0 { return index }
            }
        }
        return nil
    }

    /// A `redis.call` used as a statement.
    struct CallStatement {
        var range: Range<Int>
        var command: String
        var isExpiry: Bool { MutationOperators.expiryCommands.contains(command) }
    }

    /// A `redis.call` or `redis.pcall` whose value is discarded: the
    /// call starts a statement and nothing indexes or calls its result.
    static func callStatements(_ code: [LuaToken]) -> [CallStatement] {
        var statements: [CallStatement] = []
        for i in code.indices where code[i].kind == .name && code[i].text == "redis" {
            guard i + 3 < code.count, code[i + 1].isSymbol("."), code[i + 2].kind == .name,
                  ["call", "pcall"].contains(code[i + 2].text), code[i + 3].isSymbol("("),
                  let close = matching(code, from: i + 3) else { continue }
            if i > 0 {
                let previous = code[i - 1]
                let startsStatement: Bool
                switch previous.kind {
                case .keyword: startsStatement = ["then", "do", "else", "end", "true", "false", "nil"].contains(previous.text)
                case .symbol: startsStatement = [";", ")", "]", "}"].contains(previous.text)
                case .name, .number, .string: startsStatement = true
                case .comment: startsStatement = true
                }
                guard startsStatement else { continue }
            }
            if close + 1 < code.count {
                let next = code[close + 1]
                if next.kind == .symbol, [".", ":", "[", "(", "{"].contains(next.text) { continue }
                if next.kind == .string { continue }
            }
            let command = code[i + 4].quotedContents?.uppercased() ?? ""
            statements.append(CallStatement(range: code[i].range.lowerBound..<code[close].range.upperBound, command: command))
        }
        return statements
    }

    /// Expiry statements, and `, 'PX', value` argument pairs, removed.
    private static func dropExpiry(_ code: [LuaToken]) -> [[SourceEdit]] {
        var edits: [(Int, SourceEdit)] = callStatements(code).filter(\.isExpiry)
            .map { ($0.range.lowerBound, SourceEdit($0.range, "local _ = nil")) }
        for k in code.indices where k > 0 && k + 2 < code.count {
            guard let option = code[k].quotedContents, expiryOptions.contains(option.uppercased()),
                  code[k - 1].isSymbol(","), code[k + 1].isSymbol(",") else { continue }
            // The value runs to the next ',' or the closing ')' at depth 0.
            var end = k + 2
            var depth = 0
            var last = k + 2
            while end < code.count {
                let token = code[end]
                if token.kind == .symbol, ["(", "[", "{"].contains(token.text) { depth += 1 }
                if token.kind == .symbol, [")", "]", "}"].contains(token.text) {
                    if depth == 0 { break }
                    depth -= 1
                }
                if depth == 0, token.isSymbol(",") { break }
                last = end
                end += 1
            }
            let range = code[k - 1].range.lowerBound..<code[last].range.upperBound
            edits.append((range.lowerBound, SourceEdit(range, "")))
        }
        return edits.sorted { $0.0 < $1.0 }.map { [$0.1] }
    }

    /// `if X then` / `elseif X then` → `if not (X) then`.
    private static func negateConditions(_ code: [LuaToken]) -> [[SourceEdit]] {
        var edits: [[SourceEdit]] = []
        for i in code.indices where code[i].isKeyword("if") || code[i].isKeyword("elseif") {
            var depth = 0
            var j = i + 1
            while j < code.count {
                let token = code[j]
                if token.kind == .symbol, ["(", "[", "{"].contains(token.text) { depth += 1 }
                if token.kind == .symbol, [")", "]", "}"].contains(token.text) { depth -= 1 }
                if depth == 0, token.isKeyword("then") { break }
                j += 1
            }
            guard j < code.count, j > i + 1 else { continue }
            edits.append([SourceEdit(code[i + 1].range.lowerBound..<code[i + 1].range.lowerBound, "not ("),
                          SourceEdit(code[j - 1].range.upperBound..<code[j - 1].range.upperBound, ")")])
        }
        return edits
    }

    /// `return {a, b, c}`: every pair of elements swapped.
    private static func swapReturns(_ code: [LuaToken]) -> [[SourceEdit]] {
        var edits: [[SourceEdit]] = []
        for i in code.indices where code[i].isKeyword("return") && i + 1 < code.count && code[i + 1].isSymbol("{") {
            guard let close = matching(code, from: i + 1) else { continue }
            if close + 1 < code.count, code[close + 1].kind == .symbol,
               [".", ":", "[", "(", ".."].contains(code[close + 1].text) { continue }
            // Elements: token runs between depth-1 separators.
            var elements: [Range<Int>] = []
            var start = i + 2
            var depth = 0
            for j in (i + 2)...close {
                let token = code[j]
                let atEnd = j == close
                if !atEnd, token.kind == .symbol, ["(", "[", "{"].contains(token.text) { depth += 1 }
                if !atEnd, token.kind == .symbol, [")", "]", "}"].contains(token.text) { depth -= 1 }
                if atEnd || (depth == 0 && (token.isSymbol(",") || token.isSymbol(";"))) {
                    if j > start { elements.append(code[start].range.lowerBound..<code[j - 1].range.upperBound) }
                    start = j + 1
                }
            }
            guard elements.count >= 2 else { continue }
            for a in elements.indices {
                for b in elements.indices where b > a {
                    edits.append([SourceEdit(elements[a], text(code, elements[b])),
                                  SourceEdit(elements[b], text(code, elements[a]))])
                }
            }
        }
        return edits
    }

    /// The source text of a byte range, rebuilt from the tokens in it
    /// (single spaces between tokens that were apart).
    private static func text(_ code: [LuaToken], _ range: Range<Int>) -> String {
        var result = ""
        var previousEnd: Int?
        for token in code where range.contains(token.range.lowerBound) {
            if let previousEnd, previousEnd < token.range.lowerBound { result += " " }
            result += token.text
            previousEnd = token.range.upperBound
        }
        return result
    }

    /// `KEYS[i]` → `KEYS[i-1]` and `KEYS[i+1]`, where declared.
    private static func swapKeys(_ code: [LuaToken], declaredKeys: Set<Int>) -> [[SourceEdit]] {
        var edits: [[SourceEdit]] = []
        let declared = declaredKeys.isEmpty ? Set(keyIndexTokens(code).compactMap { Int(code[$0].text) }) : declaredKeys
        for n in keyIndexTokens(code) {
            guard let index = Int(code[n].text) else { continue }
            for other in [index - 1, index + 1] where declared.contains(other) {
                edits.append([SourceEdit(code[n].range, String(other))])
            }
        }
        return edits
    }

    /// Indices into `code` of the number tokens in `KEYS[n]`.
    static func keyIndexTokens(_ code: [LuaToken]) -> [Int] {
        code.indices.filter { n in
            n >= 2 && n + 1 < code.count && code[n].kind == .number && code[n - 1].isSymbol("[")
                && code[n - 2].kind == .name && code[n - 2].text == "KEYS" && code[n + 1].isSymbol("]")
        }
    }

    /// Decimal integer literals (not KEYS indices) → n+1 and n−1.
    private static func shiftNumbers(_ code: [LuaToken]) -> [[SourceEdit]] {
        let keyIndices = Set(keyIndexTokens(code))
        var edits: [[SourceEdit]] = []
        for n in code.indices where code[n].kind == .number && !keyIndices.contains(n) {
            guard code[n].text.allSatisfy(\.isASCII), code[n].text.allSatisfy(\.isNumber),
                  let value = Int64(code[n].text) else { continue }
            // After a '-' (binary or unary), a negative literal is parenthesised so `x - -1` never becomes `x --1`.
            let afterMinus = n > 0 && code[n - 1].isSymbol("-")
            for shifted in [value + 1, value - 1] {
                let replacement = shifted < 0 && afterMinus ? "(\(shifted))" : String(shifted)
                edits.append([SourceEdit(code[n].range, replacement)])
            }
        }
        return edits
    }
}
