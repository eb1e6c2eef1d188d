import Foundation

/// The committed list of surviving mutants that were judged equivalent
/// (or otherwise explained), read from `lua/equivalent-mutants.txt`.
///
/// Format: blocks separated by blank lines; `#` starts a comment line.
///
///     file: renew.lua
///     operator: drop-expiry
///     original: <the line before, as the report prints it>
///     mutated: local _ = nil
///     why: the first line of the explanation
///       continues on indented lines.
///
/// `original` and `mutated` are the trimmed source line(s) as the mutate
/// report prints them; no line numbers, so edits elsewhere keep keys valid.
public struct EquivalentMutants: Sendable {
    public struct Entry: Hashable, Sendable {
        public var key: EquivalenceKey
        public var explanation: String
        /// 1-based line of the block in the file, for messages.
        public var line: Int
    }

    public var entries: [Entry] = []

    public init(entries: [Entry] = []) { self.entries = entries }

    /// The file's name inside a Lua directory.
    public static let fileName = "equivalent-mutants.txt"

    /// Reads `<directory>/equivalent-mutants.txt`; an absent file is an empty list.
    /// - Throws: `SetupError` on an unreadable or malformed file.
    public init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(EquivalentMutants.fileName)
        guard FileManager.default.fileExists(atPath: path) else {
            self.init()
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw SetupError("cannot read \(path)") }
        try self.init(parsing: String(decoding: data, as: UTF8.self), path: path)
    }

    /// - Throws: `SetupError` naming the line of a block that lacks a field.
    public init(parsing text: String, path: String = EquivalentMutants.fileName) throws {
        var fields: [String: String] = [:]
        var lastField: String?
        var blockLine = 0
        func finish() throws {
            defer { fields = [:]; lastField = nil }
            guard !fields.isEmpty else { return }
            for name in ["file", "operator", "original", "mutated", "why"] where (fields[name] ?? "").isEmpty {
                throw SetupError("\(path):\(blockLine): entry has no '\(name):' field")
            }
            entries.append(Entry(key: EquivalenceKey(file: fields["file"]!, mutationOperator: fields["operator"]!,
                                                     original: fields["original"]!, mutated: fields["mutated"]!),
                                 explanation: fields["why"]!, line: blockLine))
        }
        for (number, raw) in text.components(separatedBy: "\n").enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
            if line.hasPrefix("#") { continue }
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                try finish()
                continue
            }
            if line.first == " " || line.first == "\t" {
                guard let lastField else { throw SetupError("\(path):\(number + 1): continuation line outside an entry") }
                fields[lastField, default: ""] += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let colon = line.firstIndex(of: ":") else {
                throw SetupError("\(path):\(number + 1): expected 'field: value'")
            }
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            guard ["file", "operator", "original", "mutated", "why"].contains(name) else {
                throw SetupError("\(path):\(number + 1): unknown field '\(name)'")
            }
            if fields.isEmpty { blockLine = number + 1 }
            // Only one space after the colon is syntax: snippets keep the rest verbatim.
            var value = line[line.index(after: colon)...]
            if value.first == " " { value = value.dropFirst() }
            fields[name] = String(value)
            lastField = name
        }
        try finish()
    }

    /// The explanation recorded for `mutant`, if any.
    public func explanation(for mutant: Mutant) -> String? {
        entries.first { $0.key == mutant.key }?.explanation
    }

    /// Entries that name no mutant of `mutants` (stale after a script edit).
    public func unmatched(by mutants: [Mutant]) -> [Entry] {
        let keys = Set(mutants.map(\.key))
        return entries.filter { !keys.contains($0.key) }
    }

    /// A block for `mutant`, ready to paste into the file.
    public static func block(for mutant: Mutant, explanation: String = "TODO explain why no behaviour changes") -> String {
        """
        file: \(mutant.file)
        operator: \(mutant.mutationOperator.rawValue)
        original: \(mutant.original)
        mutated: \(mutant.mutated)
        why: \(explanation)
        """
    }
}
