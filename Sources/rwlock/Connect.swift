import ArgumentParser
import Foundation
import RWLock

/// Where Redis is and how to reach it: the options every subcommand that
/// talks to Redis shares. The TLS options are named as redis-cli names them.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Redis URL: redis://, rediss:// (TLS), unix://, or redis+cluster:// / rediss+cluster://host:port,... for a "
            + "cluster; default: $REDIS_URL, else redis://127.0.0.1:6379. Without a password in it, $REDISCLI_AUTH "
            + "is the password, as for redis-cli.", valueName: "url"))
    var url: String?

    @Option(name: .customLong("cacert"), help: ArgumentHelp(
        "TLS: a CA certificate file (PEM) to verify the server with; default: the system's trust store.", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("cacertdir"), help: ArgumentHelp(
        "TLS: a directory of hashed CA certificates (openssl rehash) to verify the server with.", valueName: "dir"))
    var caDirectory: String?

    @Option(name: .customLong("cert"), help: ArgumentHelp(
        "TLS: the client certificate (PEM), for servers that require one.", valueName: "file"))
    var certificateFile: String?

    @Option(name: .customLong("key"), help: ArgumentHelp(
        "TLS: the client certificate's private key (PEM).", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("sni"), help: ArgumentHelp(
        "TLS: the name the server's certificate must carry, also sent as SNI; default: the URL's host.", valueName: "name"))
    var serverName: String?

    @Flag(help: "TLS: do not verify the server's certificate at all (chain and name). For test servers only.")
    var insecure = false

    /// The TLS settings the options give; nil when none was given.
    var tls: TLSConfiguration? {
        guard caFile != nil || caDirectory != nil || certificateFile != nil || keyFile != nil || serverName != nil || insecure
        else { return nil }
        return TLSConfiguration(
            caFile: caFile, caDirectory: caDirectory, certificateFile: certificateFile, keyFile: keyFile,
            serverName: serverName, verifiesServer: !insecure)
    }

    /// The client these options describe; the password from REDISCLI_AUTH
    /// when the URL has none.
    ///
    /// - Throws: ``RWLockError`` `.invalidConfiguration` for a bad URL or TLS
    ///   options given for a URL without TLS.
    func client() throws -> RedisClient {
        var deployment = try url.map(RedisDeployment.init(url:)) ?? RedisDeployment.fromEnvironment()
        if let password = ProcessInfo.processInfo.environment["REDISCLI_AUTH"], !password.isEmpty {
            deployment = deployment.withPassword(password)
        }
        if let tls {
            deployment = try deployment.usingTLS(tls)
        }
        return RedisClient(deployment: deployment)
    }
}

extension RedisDeployment {
    /// `password` for every endpoint that has none of its own.
    func withPassword(_ password: String) -> RedisDeployment {
        func apply(_ endpoint: RedisEndpoint) -> RedisEndpoint {
            var endpoint = endpoint
            if endpoint.password == nil { endpoint.password = password }
            return endpoint
        }
        switch self {
        case .server(let endpoint): return .server(apply(endpoint))
        case .cluster(let seeds): return .cluster(seeds: seeds.map(apply))
        }
    }
}

/// `NAME` and the connection options, for the operator commands.
struct LockOptions: ParsableArguments {
    @Argument(help: "The lock's name.")
    var name: String

    @OptionGroup var connection: ConnectionOptions

    /// The lock, or exit 64 for a bad URL or name.
    func lock() -> RWLock {
        do {
            return try RWLock(name: name, client: try connection.client())
        } catch {
            Exit.fail(error)
        }
    }
}
