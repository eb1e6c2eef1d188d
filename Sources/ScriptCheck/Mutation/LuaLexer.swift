/// One lexical token of Lua 5.1 source, by byte range. The mutation
/// operators work on these so they never touch comments or the inside of
/// string literals unless the operator is about a literal.
public struct LuaToken: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case name
        case keyword
        case number
        /// A quoted or long-bracket string; `range` includes the delimiters.
        case string
        /// An operator or punctuation: `==`, `(`, `..`, …
        case symbol
        case comment
    }

    public var kind: Kind
    /// Byte offsets into the source.
    public var range: Range<Int>
    /// 1-based line of the token's first byte.
    public var line: Int
    public var text: String

    /// The contents of a quoted string literal without its quotes (escapes
    /// left as written), or nil for other tokens.
    public var quotedContents: String? {
        guard kind == .string, let first = text.first, first == "'" || first == "\"", text.count >= 2 else { return nil }
        return String(text.dropFirst().dropLast())
    }

    func isSymbol(_ symbol: String) -> Bool { kind == .symbol && text == symbol }
    func isKeyword(_ keyword: String) -> Bool { kind == .keyword && text == keyword }
}

/// A small, forgiving Lua 5.1 lexer: it never fails. Unterminated strings
/// or comments run to the end of the source (the compiler will report them;
/// a mutant of such a file is a lint finding anyway).
public enum LuaLexer {
    static let keywords: Set<String> = [
        "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
        "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while",
    ]

    /// The code tokens of `source`, comments included as `.comment` tokens;
    /// whitespace is dropped.
    public static func tokens(_ source: [UInt8]) -> [LuaToken] {
        var tokens: [LuaToken] = []
        var index = 0
        var line = 1
        let count = source.count

        func byte(_ offset: Int) -> UInt8? { offset < count ? source[offset] : nil }
        func emit(_ kind: LuaToken.Kind, _ start: Int, _ end: Int, _ startLine: Int) {
            tokens.append(LuaToken(kind: kind, range: start..<end, line: startLine,
                                   text: String(decoding: source[start..<end], as: UTF8.self)))
        }
        /// At `offset` a long bracket `[==[` opens: its level, or nil.
        func longBracketLevel(at offset: Int) -> Int? {
            guard byte(offset) == UInt8(ascii: "[") else { return nil }
            var level = 0
            var cursor = offset + 1
            while byte(cursor) == UInt8(ascii: "=") { level += 1; cursor += 1 }
            return byte(cursor) == UInt8(ascii: "[") ? level : nil
        }
        /// Skips a long bracket of `level` opening at `offset`; returns the end.
        func skipLong(from offset: Int, level: Int) -> Int {
            var cursor = offset + level + 2
            while cursor < count {
                if source[cursor] == UInt8(ascii: "\n") { line += 1 }
                if source[cursor] == UInt8(ascii: "]") {
                    var probe = cursor + 1
                    var equals = 0
                    while byte(probe) == UInt8(ascii: "=") { equals += 1; probe += 1 }
                    if equals == level, byte(probe) == UInt8(ascii: "]") { return probe + 1 }
                }
                cursor += 1
            }
            return count
        }

        while index < count {
            let c = source[index]
            let start = index
            let startLine = line
            switch c {
            case UInt8(ascii: "\n"):
                line += 1
                index += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                index += 1
            case UInt8(ascii: "-") where byte(index + 1) == UInt8(ascii: "-"):
                if let level = longBracketLevel(at: index + 2) {
                    index = skipLong(from: index + 2, level: level)
                } else {
                    while index < count, source[index] != UInt8(ascii: "\n") { index += 1 }
                }
                emit(.comment, start, index, startLine)
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                index += 1
                while index < count, source[index] != c, source[index] != UInt8(ascii: "\n") {
                    if source[index] == UInt8(ascii: "\\"), index + 1 < count {
                        if source[index + 1] == UInt8(ascii: "\n") { line += 1 }
                        index += 1
                    }
                    index += 1
                }
                if index < count, source[index] == c { index += 1 }
                emit(.string, start, index, startLine)
            case UInt8(ascii: "[") where longBracketLevel(at: index) != nil:
                index = skipLong(from: index, level: longBracketLevel(at: index)!)
                emit(.string, start, index, startLine)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                index = numberEnd(source, from: index)
                emit(.number, start, index, startLine)
            case UInt8(ascii: ".") where byte(index + 1).map { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } == true:
                index = numberEnd(source, from: index)
                emit(.number, start, index, startLine)
            case _ where isNameStart(c):
                while index < count, isNameContinue(source[index]) { index += 1 }
                let text = String(decoding: source[start..<index], as: UTF8.self)
                emit(keywords.contains(text) ? .keyword : .name, start, index, startLine)
            default:
                let three = index + 3 <= count ? String(decoding: source[index..<index + 3], as: UTF8.self) : ""
                let two = index + 2 <= count ? String(decoding: source[index..<index + 2], as: UTF8.self) : ""
                if three == "..." {
                    index += 3
                } else if ["==", "~=", "<=", ">=", ".."].contains(two) {
                    index += 2
                } else {
                    index += 1
                }
                emit(.symbol, start, index, startLine)
            }
        }
        return tokens
    }

    /// Lua's `read_numeral`: digits and dots, an exponent with its sign,
    /// then any alphanumerics (hex digits, a malformed tail).
    private static func numberEnd(_ source: [UInt8], from start: Int) -> Int {
        var index = start
        while index < source.count {
            let c = source[index]
            if isNameContinue(c) || c == UInt8(ascii: ".") {
                index += 1
                if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), index < source.count,
                   source[index] == UInt8(ascii: "+") || source[index] == UInt8(ascii: "-") {
                    index += 1
                }
            } else {
                break
            }
        }
        return index
    }

    static func isNameStart(_ c: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) || c == UInt8(ascii: "_")
    }

    static func isNameContinue(_ c: UInt8) -> Bool {
        isNameStart(c) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c)
    }
}
