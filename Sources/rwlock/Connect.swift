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
    func client() throws -> RWLockClient {
        let environment = ProcessInfo.processInfo.environment
        let password = environment["REDISCLI_AUTH"].flatMap { $0.isEmpty ? nil : $0 }
        let given = url ?? environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? RedisEndpoint.defaultURL
        // `redis://user@host` names an ACL user whose password REDISCLI_AUTH
        // holds (the parser refuses a user without a password).
        let text = password.map { Self.insertingPassword($0, into: given) } ?? given
        // From the environment, unchanged: its errors name REDIS_URL.
        var deployment = url == nil && text == given ? try RedisDeployment.fromEnvironment() : try RedisDeployment(url: text)
        if let password {
            deployment = deployment.withPassword(password)
        }
        if let tls {
            deployment = try deployment.usingTLS(tls)
        }
        return try RWLockClient(deployment: deployment)
    }
}

extension ConnectionOptions {
    /// `url` with `password` (percent-encoded) after a user name that has
    /// none; any other URL as it is.
    static func insertingPassword(_ password: String, into url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        guard !rest.hasPrefix("/"), let at = rest.firstIndex(of: "@") else { return url }
        let userinfo = rest[..<at]
        guard !userinfo.isEmpty, !userinfo.contains(":"), !userinfo.contains("/") else { return url }
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let encoded = password.addingPercentEncoding(withAllowedCharacters: unreserved) ?? password
        return String(url[..<schemeEnd.upperBound]) + userinfo + ":" + encoded + rest[at...]
    }
}

/// `--prefix P`: the namespace of the lock's keys and channel.
struct PrefixOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "What the lock's keys and channel start with (an application's or tenant's namespace, matching its ACL "
            + "key pattern).", valueName: "prefix"))
    var prefix: String = "rwlock:"
}

/// `NAME`, the connection options and the key prefix, for the operator
/// commands.
struct LockOptions: ParsableArguments {
    @Argument(help: "The lock's name.")
    var name: String

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var keys: PrefixOption

    /// The lock, or exit 64 for a bad URL, name or prefix.
    func lock() -> RWLock {
        do {
            var options = RWLock.Options()
            options.keyPrefix = keys.prefix
            return try RWLock(name: name, client: try connection.client(), options: options)
        } catch {
            Exit.fail(error)
        }
    }
}
