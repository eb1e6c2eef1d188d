import Foundation
import PostgresNIO

/// The service's settings, read once from the environment at start so that a
/// bad value stops the process before it listens, not at its first request.
struct Settings {
    /// The lock's Redis (`REDIS_URL`, any form `RWLockClient(url:)` takes).
    var redisURL: String
    /// Where the counters live (`DATABASE_URL`).
    var database: PostgresClient.Configuration
    /// The HTTP port (`PORT`, default 8080); the service listens on 127.0.0.1
    /// unless `HOST` says otherwise.
    var host: String
    var port: Int

    /// Reads `REDIS_URL`, `DATABASE_URL`, `HOST` and `PORT`.
    static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Settings {
        guard let databaseURL = environment["DATABASE_URL"] else {
            throw SettingsError("DATABASE_URL is not set; give postgres://user[:password]@host[:port]/database")
        }
        let portText = environment["PORT"] ?? "8080"
        guard let port = Int(portText), (1...65_535).contains(port) else {
            throw SettingsError("PORT must be a TCP port number, got \(portText)")
        }
        return Settings(
            redisURL: environment["REDIS_URL"] ?? "redis://127.0.0.1:6379",
            database: try postgresConfiguration(url: databaseURL),
            host: environment["HOST"] ?? "127.0.0.1",
            port: port)
    }

    /// `postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]`.
    /// postgres-nio takes no URL itself, hence this parser; TLS defaults to
    /// `prefer`, libpq's default, so a local server without TLS still works.
    static func postgresConfiguration(url: String) throws -> PostgresClient.Configuration {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
            let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty
        else {
            throw SettingsError("DATABASE_URL must look like postgres://user[:password]@host[:port]/database")
        }
        let database = String(parts.path.drop(while: { $0 == "/" }))
        let tls: PostgresClient.Configuration.TLS
        switch parts.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        case let other: throw SettingsError("DATABASE_URL's sslmode must be disable, prefer or require, got \(other)")
        }
        return PostgresClient.Configuration(
            host: host, port: parts.port ?? 5432, username: user.removingPercentEncoding ?? user,
            password: parts.password.map { $0.removingPercentEncoding ?? $0 },
            database: database.isEmpty ? nil : database, tls: tls)
    }
}

/// A setting the service cannot start with; the message names it.
struct SettingsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
