import SHA1Digest
import Foundation

// embed-lua OUTPUT SCRIPT.lua...
//
// Writes a Swift file declaring one `LockScript` per script: its name (the
// file name without `.lua`), its exact bytes as a string literal, and the
// SHA-1 hex digest Redis will name it by (EVALSHA, SCRIPT LOAD). Run by the
// EmbedLuaScripts build-tool plugin; the output is compiled into RWLock.

let arguments = CommandLine.arguments.dropFirst()
guard let outputPath = arguments.first, arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: embed-lua OUTPUT SCRIPT.lua...\n".utf8))
    exit(2)
}

/// A Swift string literal whose UTF-8 is exactly `text`.
func literal(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\"": out += "\\\""
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case " "..."~": out.unicodeScalars.append(scalar)
        default: out += "\\u{\(String(scalar.value, radix: 16))}"
        }
    }
    return out + "\""
}

/// `acquire_read` -> `acquireRead`.
func identifier(_ name: String) -> String {
    let parts = name.split(whereSeparator: { !$0.isLetter && !$0.isNumber })
    guard let first = parts.first else { return "_" }
    return first.lowercased() + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
}

var declarations: [String] = []
var identifiers: [String] = []
for path in arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    let name = url.deletingPathExtension().lastPathComponent
    let bytes: [UInt8]
    do {
        bytes = Array(try Data(contentsOf: url))
    } catch {
        FileHandle.standardError.write(Data("embed-lua: cannot read \(path): \(error)\n".utf8))
        exit(1)
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        FileHandle.standardError.write(Data("embed-lua: \(path) is not valid UTF-8\n".utf8))
        exit(1)
    }
    let id = identifier(name)
    identifiers.append(id)
    declarations.append(
        """
            /// `lua/\(name).lua`, \(bytes.count) bytes.
            static let \(id) = LockScript(
                name: \(literal(name)),
                sha1: \(literal(SHA1.hex(bytes))),
                text: \(literal(text))
            )
        """)
}

let file = """
    // Generated at build time by embed-lua (EmbedLuaScripts plugin) from the
    // package's lua/ directory. Do not edit: change lua/ instead.

    extension LockScript {
    \(declarations.joined(separator: "\n\n"))

        /// Every embedded script, in file-name order.
        static let all: [LockScript] = [\(identifiers.joined(separator: ", "))]
    }

    """
do {
    // Only rewrite on change, so an unchanged script does not recompile RWLock.
    if (try? String(contentsOfFile: outputPath, encoding: .utf8)) != file {
        try file.write(toFile: outputPath, atomically: true, encoding: .utf8)
    }
} catch {
    FileHandle.standardError.write(Data("embed-lua: cannot write \(outputPath): \(error)\n".utf8))
    exit(1)
}
