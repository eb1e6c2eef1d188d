// swift-tools-version:6.0
import PackageDescription

// The example is a package of its own so that the library's package does not
// depend on Hummingbird or postgres-nio: only this service does.
let package = Package(
    name: "fenced-counter",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "RWLock", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "fenced-counter",
            dependencies: [
                .product(name: "RWLock", package: "RWLock"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
