import Foundation

/// The lock's operations, one Lua file each in `lua/`.
public enum LockOperation: String, CaseIterable, Hashable, Sendable, Comparable {
    case acquireRead = "acquire_read"
    case acquireWrite = "acquire_write"
    case release
    case renew
    case downgrade
    case withdraw
    case inspect

    public static func < (a: LockOperation, b: LockOperation) -> Bool { a.rawValue < b.rawValue }
}

/// A usage or setup problem (no such directory, unreadable file): exit 2.
public struct SetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The lock's script set: one `Script` and its parsed header per operation.
public struct LockScripts: Sendable {
    public var scripts: [LockOperation: Script]
    public var headers: [LockOperation: ScriptHeader]
    /// Where they were read from, for reports.
    public var directory: String

    /// Reads `<directory>/<operation>.lua` for every operation; with `base`,
    /// a script missing from `directory` is read from `base` instead (a
    /// variant that changes one or two scripts of a full set).
    /// - Throws: `SetupError` when the directory or a file cannot be read.
    public init(directory: String, base: String? = nil) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SetupError("no such Lua directory: \(directory)")
        }
        var sources: [LockOperation: [UInt8]] = [:]
        for operation in LockOperation.allCases {
            var path = (directory as NSString).appendingPathComponent(operation.rawValue + ".lua")
            if let base, !FileManager.default.fileExists(atPath: path) {
                path = (base as NSString).appendingPathComponent(operation.rawValue + ".lua")
            }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SetupError("cannot read \(path): every operation needs its script (\(LockOperation.allCases.map { $0.rawValue + ".lua" }.joined(separator: ", ")))")
            }
            sources[operation] = Array(data)
        }
        self.init(sources: sources, directory: directory)
    }

    /// A script set from sources in memory (mutants, tests).
    public init(sources: [LockOperation: [UInt8]], directory: String = "<memory>") {
        self.directory = directory
        var scripts: [LockOperation: Script] = [:]
        var headers: [LockOperation: ScriptHeader] = [:]
        for (operation, source) in sources {
            scripts[operation] = Script(name: operation.rawValue + ".lua", source: source)
            headers[operation] = ScriptHeader(parsing: source)
        }
        self.scripts = scripts
        self.headers = headers
    }

    public subscript(_ operation: LockOperation) -> Script { scripts[operation]! }

    /// The package's own `lua/` directory: next to `Package.swift`, found from
    /// this source file's location at build time, else `./lua`.
    public static var defaultDirectory: String {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidate = packageRoot.appendingPathComponent("lua").path
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        return "lua"
    }
}

/// The contract a script declares in its leading comment block:
/// `-- KEYS[n] name ...`, `-- ARGV[n] name ...` and `-- REPLY shape`.
public struct ScriptHeader: Hashable, Sendable {
    public var keys: [Int: String] = [:]
    public var arguments: [Int: String] = [:]
    /// The declared reply shape, e.g. `{int, int, int} | error`.
    public var reply: ReplyShape?
    public var replyText: String?

    public init(parsing source: [UInt8]) {
        let text = String(decoding: source, as: UTF8.self)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("--") else {
                if trimmed.isEmpty { continue } else { break }   // the header ends at the first code line
            }
            let body = trimmed.dropFirst(2).trimmingCharacters(in: .whitespaces)
            if let (index, name) = ScriptHeader.declaration(body, prefix: "KEYS[") { keys[index] = name }
            if let (index, name) = ScriptHeader.declaration(body, prefix: "ARGV[") { arguments[index] = name }
            if body.hasPrefix("REPLY ") {
                let shape = String(body.dropFirst(6))
                replyText = shape
                reply = ReplyShape(parsing: shape)
            }
        }
    }

    private static func declaration(_ body: String, prefix: String) -> (Int, String)? {
        guard body.hasPrefix(prefix), let close = body.firstIndex(of: "]") else { return nil }
        guard let index = Int(body[body.index(body.startIndex, offsetBy: prefix.count)..<close]) else { return nil }
        let rest = body[body.index(after: close)...].split(separator: " ").first.map(String.init) ?? ""
        return (index, rest)
    }
}
