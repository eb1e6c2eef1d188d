import Foundation
import PackagePlugin

/// Embeds the package's `lua/*.lua` scripts into the target it is applied to.
///
/// `lua/` is the one source of truth for the lock's scripts (script-check
/// reads the same files), so the runtime must not carry a second, hand-kept
/// copy that could drift. This build-tool plugin runs `embed-lua` over every
/// script and compiles the generated Swift file (each script's bytes and
/// SHA-1) into the target. The scripts are declared as inputs, so editing one
/// regenerates the file on the next build.
@main
struct EmbedLuaScripts: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let luaDirectory = context.package.directoryURL.appending(path: "lua")
        let scripts = try FileManager.default
            .contentsOfDirectory(at: luaDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "lua" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !scripts.isEmpty else {
            throw EmbedError("no .lua files in \(luaDirectory.path); the lock's scripts live in the package's lua/ directory")
        }
        let output = context.pluginWorkDirectoryURL.appending(path: "LockScripts+Embedded.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(scripts.count) Lua scripts from lua/",
                executable: try context.tool(named: "embed-lua").url,
                arguments: [output.path] + scripts.map(\.path),
                inputFiles: scripts,
                outputFiles: [output]
            )
        ]
    }
}

struct EmbedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
