/// A script's documented reply shape, as written in its header:
/// `int`, `bulk`, `status`, `error`, `nil`, `any`, `{a, b}` (an array of
/// exactly those), `{a...}` (an array of any length), alternatives with `|`.
public indirect enum ReplyShape: Hashable, Sendable, CustomStringConvertible {
    case integer, bulk, status, error, null, any
    case tuple([ReplyShape])
    case list(ReplyShape)
    case oneOf([ReplyShape])

    /// Parses `text`; nil when it is not a shape (a lint finding).
    public init?(parsing text: String) {
        var parser = Parser(characters: Array(text.filter { !$0.isWhitespace }))
        guard let shape = parser.alternatives(), parser.position == parser.characters.count else { return nil }
        self = shape
    }

    /// Whether `reply` has this shape.
    public func matches(_ reply: RedisReply) -> Bool {
        switch (self, reply) {
        case (.any, _): return true
        case (.integer, .integer), (.bulk, .bulk), (.status, .status), (.error, .error): return true
        case (.null, .null), (.null, .nullArray): return true
        case (.tuple(let shapes), .array(let elements)):
            return shapes.count == elements.count && zip(shapes, elements).allSatisfy { $0.matches($1) }
        case (.list(let shape), .array(let elements)): return elements.allSatisfy(shape.matches)
        case (.oneOf(let shapes), _): return shapes.contains { $0.matches(reply) }
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .integer: return "int"
        case .bulk: return "bulk"
        case .status: return "status"
        case .error: return "error"
        case .null: return "nil"
        case .any: return "any"
        case .tuple(let shapes): return "{" + shapes.map(\.description).joined(separator: ", ") + "}"
        case .list(let shape): return "{\(shape)...}"
        case .oneOf(let shapes): return shapes.map(\.description).joined(separator: " | ")
        }
    }

    private struct Parser {
        let characters: [Character]
        var position = 0

        mutating func alternatives() -> ReplyShape? {
            var shapes: [ReplyShape] = []
            repeat {
                if !shapes.isEmpty { position += 1 }
                guard let shape = single() else { return nil }
                shapes.append(shape)
            } while position < characters.count && characters[position] == "|"
            return shapes.count == 1 ? shapes[0] : .oneOf(shapes)
        }

        mutating func single() -> ReplyShape? {
            guard position < characters.count else { return nil }
            if characters[position] == "{" {
                position += 1
                var shapes: [ReplyShape] = []
                while position < characters.count, characters[position] != "}" {
                    if !shapes.isEmpty {
                        guard characters[position] == "," else { return nil }
                        position += 1
                    }
                    guard let shape = single() else { return nil }
                    if hasPrefix("...") {
                        position += 3
                        guard position < characters.count, characters[position] == "}" else { return nil }
                        position += 1
                        return .list(shape)
                    }
                    shapes.append(shape)
                }
                guard position < characters.count else { return nil }
                position += 1
                return .tuple(shapes)
            }
            for (word, shape) in [("int", ReplyShape.integer), ("bulk", .bulk), ("status", .status),
                                  ("error", .error), ("nil", .null), ("any", .any)] where hasPrefix(word) {
                position += word.count
                return shape
            }
            return nil
        }

        func hasPrefix(_ word: String) -> Bool {
            let end = position + word.count
            return end <= characters.count && String(characters[position..<end]) == word
        }
    }
}
