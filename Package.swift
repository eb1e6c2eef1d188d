// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RWLock",
    // Synchronization's Mutex and Atomic need macOS 15; Linux has them with
    // Swift 6. The rwlock executable is Linux-only (its keeper uses
    // CLOCK_BOOTTIME and /proc); the library and script-check are not.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RWLock", targets: ["RWLock"]),
        .library(name: "ScriptCheck", targets: ["ScriptCheck"]),
        .executable(name: "script-check", targets: ["script-check"]),
        .executable(name: "rwlock", targets: ["rwlock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.1",
            providers: [.apt(["liblua5.1-0-dev"]), .brew(["lua@5.1"])]
        ),
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        // Sockets and TLS under the connections (OpenSSL; hiredis 0.14, which
        // Debian 12 ships, has no TLS of its own).
        .systemLibrary(
            name: "CTransport",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        .target(
            name: "RWLock",
            dependencies: [
                "CHiredis",
                "CTransport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            // lua/ is the scripts' one source of truth: embedded at build time.
            plugins: ["EmbedLuaScripts"]
        ),
        // The release `rwlock --version` and `script-check --version` print.
        .target(name: "PackageVersion"),
        // SHA-1 for both sides: the embedded scripts' names and the checker's.
        .target(name: "SHA1Digest"),
        .executableTarget(name: "embed-lua", dependencies: ["SHA1Digest"]),
        .plugin(
            name: "EmbedLuaScripts",
            capability: .buildTool(),
            dependencies: ["embed-lua"]
        ),
        .target(
            name: "ScriptCheck",
            dependencies: ["CLua", "SHA1Digest"]
        ),
        .executableTarget(
            name: "script-check",
            dependencies: [
                "ScriptCheck",
                "PackageVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "rwlock-bench", dependencies: ["RWLock", "ScriptCheck"]),
        .executableTarget(
            name: "rwlock",
            dependencies: [
                "RWLock",
                "PackageVersion",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "RWLockTests",
            dependencies: [
                "RWLock",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "ScriptCheckTests",
            dependencies: ["ScriptCheck", "RWLock", "SHA1Digest"],
            // Lua corpus of the fidelity suite, read from disk by path.
            exclude: ["Fidelity/Scripts", "KnownBad"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
