#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a Redis server is and how to log in to it.
///
/// Usually made from a URL string with ``init(url:)``. Three forms are
/// accepted:
///
/// - `redis://[[user]:password@]host[:port][/db]` — TCP; `rediss://` the
///   same over TLS (see ``TLSConfiguration``). The port defaults
///   to 6379 and the database to 0. An IPv6 host goes in brackets
///   (`redis://[::1]:6379`). The user name and password are percent-decoded,
///   so a password containing `@`, `:` or `/` must be written `%40`, `%3A`,
///   `%2F`. `redis://:password@host` logs in with a password only (the
///   `default` user); `redis://user:password@host` logs in as an ACL user.
/// - `unix:///path/to/redis.sock[?db=N]` — a unix domain socket, optionally
///   with a password: `unix://:password@/path/to/redis.sock` or
///   `unix://user:password@/path/to/redis.sock`.
/// - `/path/to/redis.sock` — a bare absolute path, meaning a unix socket.
///
/// ``description`` never shows the password, so an endpoint is safe to log.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// How to reach the server.
    public enum Address: Sendable, Hashable {
        /// A TCP host (name, IPv4 or IPv6 literal without brackets) and port.
        case tcp(host: String, port: Int)
        /// A unix domain socket path.
        case unixSocket(path: String)
    }

    /// How to reach the server.
    public var address: Address
    /// The ACL user to log in as; `nil` logs in as `default` (when a
    /// password is set) or not at all.
    public var username: String?
    /// The password sent with `AUTH`; `nil` sends no `AUTH`.
    public var password: String?
    /// The logical database selected with `SELECT` after connecting.
    public var database: Int
    /// How to speak TLS to the server; nil for plain TCP or a unix socket.
    /// A `rediss://` URL sets the default (verified against the system's
    /// trust store).
    public var tls: TLSConfiguration?

    /// The default port of a Redis server.
    public static let defaultPort = 6379

    /// The endpoint used when `REDIS_URL` is not set: `redis://127.0.0.1:6379`.
    public static let defaultURL = "redis://127.0.0.1:6379"

    /// An endpoint from its parts. A `username` is only sent together with a
    /// `password` (`AUTH username password`); alone it is ignored.
    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0, tls: TLSConfiguration? = nil) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a Redis URL (see the type's documentation for the forms).
    ///
    /// - Throws: ``RWLockError`` of kind ``RWLockError/Kind/invalidConfiguration``
    ///   naming what is wrong and the expected form. The password is never
    ///   echoed in the message.
    public init(url: String) throws {
        self = try EndpointParser(url: url).parse()
    }

    /// The endpoint named by the `REDIS_URL` environment variable, or
    /// ``defaultURL`` when it is unset or empty.
    public static func fromEnvironment() throws -> RedisEndpoint {
        try fromEnvironment(ProcessEnvironment.value(of: "REDIS_URL"))
    }

    /// ``fromEnvironment()`` with the variable's value passed in, for tests.
    static func fromEnvironment(_ redisURL: String?) throws -> RedisEndpoint {
        guard let redisURL, !redisURL.isEmpty else { return try RedisEndpoint(url: defaultURL) }
        do {
            return try RedisEndpoint(url: redisURL)
        } catch let error as RWLockError {
            throw RWLockError.invalidConfiguration("REDIS_URL is set but unusable. \(error.detailForWrapping)")
        }
    }

    /// The endpoint as a URL with the password replaced by `***`.
    public var description: String {
        let userinfo = redactedUserinfo
        switch address {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            let db = database == 0 ? "" : "/\(database)"
            return "\(tls == nil ? "redis" : "rediss")://\(userinfo)\(shownHost):\(port)\(db)"
        case .unixSocket(let path):
            let db = database == 0 ? "" : "?db=\(database)"
            return "unix://\(userinfo)\(path)\(db)"
        }
    }
}

extension RedisEndpoint {
    /// The host (or socket path), for messages about its certificate.
    var hostDescription: String {
        switch address {
        case .tcp(let host, _): host
        case .unixSocket(let path): path
        }
    }

    /// `user:***@`, `:***@` or empty: the login as a URL shows it, password
    /// hidden, user name percent-encoded so the text parses back.
    var redactedUserinfo: String {
        guard password != nil || username != nil else { return "" }
        return (username.map(percentEncode) ?? "") + (password == nil ? "" : ":***") + "@"
    }
}

// Reading the environment without Foundation keeps this file free of it;
// getenv is thread-safe for reads as long as nobody calls setenv meanwhile,
// which is the usual contract for configuration read at startup.
enum ProcessEnvironment {
    static func value(of name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }
}

extension RWLockError {
    /// The message of an invalid-configuration error without its prefix, so
    /// it can be wrapped in more context.
    var detailForWrapping: String {
        let prefix = "Invalid RWLock configuration: "
        return description.hasPrefix(prefix) ? String(description.dropFirst(prefix.count)) : description
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), so a
/// user name shown in ``RedisEndpoint/description`` parses back.
private func percentEncode(_ text: String) -> String {
    var out = ""
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(byte))
        default:
            let hex = Array("0123456789ABCDEF".unicodeScalars)
            out += "%"
            out.unicodeScalars.append(hex[Int(byte >> 4)])
            out.unicodeScalars.append(hex[Int(byte & 0xF)])
        }
    }
    return out
}

/// A hand-written parser rather than Foundation's URL: URL's handling of
/// empty hosts (`unix:///path`), bare paths and userinfo differs between
/// platforms and versions, and every error here must say exactly what is
/// wrong.
struct EndpointParser {
    let url: String

    static let expectedForms =
        "expected redis://[[user]:password@]host[:port][/db] (rediss:// for TLS), unix:///path/to/socket[?db=N], "
        + "an absolute socket path like /run/redis/redis.sock, "
        + "redis+cluster://[[user]:password@]host:port[,host:port...] (rediss+cluster:// for TLS) for a Redis Cluster, "
        + "or redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/MASTER[?db=N] (rediss+sentinel:// for TLS) "
        + "for a master behind Redis Sentinel"

    func parse() throws -> RedisEndpoint {
        guard !url.isEmpty else { throw fail("the URL is empty") }
        guard !url.contains(where: { $0.isWhitespace }) else { throw fail("the URL contains whitespace") }
        if url.hasPrefix("/") {
            return RedisEndpoint(address: .unixSocket(path: try decode(url[...], what: "socket path")))
        }
        guard let schemeEnd = url.firstRange(of: "://") else {
            throw fail("there is no scheme (redis:// or unix://) and it is not an absolute path")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(url[schemeEnd.upperBound...])
        try checkLoginIsEncoded(rest)
        if rest.contains("#") { throw fail("a fragment (#...) is not allowed") }
        switch scheme {
        case "redis":
            return try parseTCP(&rest)
        case "rediss":
            var endpoint = try parseTCP(&rest)
            endpoint.tls = TLSConfiguration()
            return endpoint
        case "unix":
            return try parseUnix(&rest)
        case "redis+cluster", "rediss+cluster":
            throw fail("it names a Redis Cluster, not one server; pass it to try RWLockClient(url:) or RedisDeployment(url:)")
        case "redis+sentinel", "rediss+sentinel":
            throw fail("it names a master behind Redis Sentinel, not one server; pass it to try RWLockClient(url:) or RedisDeployment(url:)")
        default:
            throw fail("unsupported scheme '\(scheme)://'")
        }
    }

    private func parseTCP(_ rest: inout Substring) throws -> RedisEndpoint {
        if rest.contains("?") {
            throw fail("query parameters are not supported in redis:// and rediss:// URLs; put the database in the path (redis://host:6379/2)")
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        let (username, password) = try takeUserinfo(&authority)
        let (host, port) = try parseHostAndPort(authority)
        var database = 0
        if path.count > 1 {
            database = try parseDatabase(path.dropFirst(), source: "path")
        }
        return RedisEndpoint(address: .tcp(host: host, port: port), username: username, password: password, database: database)
    }

    /// `host[:port]` or `[ipv6][:port]`; the port defaults to 6379.
    private func parseHostAndPort(_ authority: Substring) throws -> (String, Int) {
        let host: String
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("the IPv6 address has no closing ']'") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let afterBracket = authority[authority.index(after: close)...]
            if !afterBracket.isEmpty {
                guard afterBracket.hasPrefix(":") else { throw fail("unexpected '\(afterBracket)' after the IPv6 address") }
                portText = afterBracket.dropFirst()
            }
            guard host.contains(":") else { throw fail("'[\(host)]' is not an IPv6 address") }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw fail("the host has several ':'; write an IPv6 address in brackets, like [::1]") }
            host = String(parts[0])
            if parts.count == 2 { portText = parts[1] }
        }
        guard !host.isEmpty else { throw fail("the host is missing") }
        if host.contains("%") || host.contains("@") { throw fail("the host '\(host)' contains '%' or '@'") }

        var port = RedisEndpoint.defaultPort
        if let portText {
            guard let value = Int(portText), portText.allSatisfy(\.isASCIIDigit), (1...65535).contains(value) else {
                throw fail("the port '\(portText)' is not a number from 1 to 65535")
            }
            port = value
        }
        return (host, port)
    }

    /// `redis+cluster://[[user]:password@]host:port[,host:port…][/0]`: seed
    /// nodes sharing one login. A cluster has only database 0.
    func parseClusterSeeds() throws -> [RedisEndpoint] {
        guard let schemeEnd = url.firstRange(of: "://"),
            ["redis+cluster", "rediss+cluster"].contains(url[..<schemeEnd.lowerBound].lowercased())
        else {
            throw fail("a cluster URL starts with redis+cluster:// (rediss+cluster:// for TLS)")
        }
        let tls = url[..<schemeEnd.lowerBound].lowercased() == "rediss+cluster" ? TLSConfiguration() : nil
        guard !url.contains(where: { $0.isWhitespace }) else { throw fail("the URL contains whitespace") }
        let rest = url[schemeEnd.upperBound...]
        try checkLoginIsEncoded(rest)
        if rest.contains("?") || rest.contains("#") {
            throw fail("query parameters and fragments are not supported in cluster URLs")
        }
        let authorityEnd = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        guard path.isEmpty || path == "/" || path == "/0" else {
            throw fail("a Redis Cluster has only database 0, but the URL selects '\(path.dropFirst())'")
        }
        let (username, password) = try takeUserinfo(&authority)
        guard !authority.isEmpty else { throw fail("the seed nodes are missing; list at least one host:port") }
        var seeds: [RedisEndpoint] = []
        for hostPort in authority.split(separator: ",", omittingEmptySubsequences: false) {
            guard !hostPort.isEmpty else { throw fail("a seed node between commas is empty") }
            let (host, port) = try parseHostAndPort(hostPort)
            seeds.append(RedisEndpoint(address: .tcp(host: host, port: port), username: username, password: password, tls: tls))
        }
        return seeds
    }

    /// `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/MASTER[?db=N&sentinelUser=U&sentinelPassword=P]`:
    /// sentinels (port 26379 by default) and the master they watch; the
    /// login is the data nodes', the query's the sentinels'.
    func parseSentinel() throws -> SentinelDeployment {
        guard let schemeEnd = url.firstRange(of: "://"),
            ["redis+sentinel", "rediss+sentinel"].contains(url[..<schemeEnd.lowerBound].lowercased())
        else {
            throw fail("a Sentinel URL starts with redis+sentinel:// (rediss+sentinel:// for TLS)")
        }
        guard !url.contains(where: { $0.isWhitespace }) else { throw fail("the URL contains whitespace") }
        let tls = url[..<schemeEnd.lowerBound].lowercased() == "rediss+sentinel" ? TLSConfiguration() : nil
        let rest = url[schemeEnd.upperBound...]
        try checkLoginIsEncoded(rest)
        if rest.contains("#") { throw fail("a fragment (#...) is not allowed") }
        let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
        let beforeQuery = rest[..<queryStart]
        guard let pathStart = beforeQuery.firstIndex(of: "/") else {
            throw fail("the master's name is missing; end the URL with /NAME, the name the sentinels monitor it under")
        }
        var authority = beforeQuery[..<pathStart]
        let masterName = try decode(beforeQuery[beforeQuery.index(after: pathStart)...], what: "master name")
        guard !masterName.isEmpty, !masterName.contains("/") else {
            throw fail("the master's name is missing; end the URL with /NAME, the name the sentinels monitor it under")
        }
        let (username, password) = try takeUserinfo(&authority)
        guard !authority.isEmpty else { throw fail("the sentinels are missing; list at least one host[:port]") }
        var database = 0
        var sentinelUser: String? = nil, sentinelPassword: String? = nil
        for pair in rest[queryStart...].dropFirst().split(separator: "&") {
            let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard keyValue.count == 2 else { throw fail("the query parameter '\(keyValue[0])' has no value") }
            switch keyValue[0] {
            case "db": database = try parseDatabase(keyValue[1], source: "db parameter")
            case "sentinelUser": sentinelUser = try decode(keyValue[1], what: "sentinel user name")
            case "sentinelPassword": sentinelPassword = try decode(keyValue[1], what: "sentinel password")
            default: throw fail("unknown query parameter '\(keyValue[0])'; a Sentinel URL takes db, sentinelUser and sentinelPassword")
            }
        }
        if sentinelUser != nil && sentinelPassword == nil {
            throw fail("sentinelUser is given without sentinelPassword")
        }
        var sentinels: [RedisEndpoint] = []
        for hostPort in authority.split(separator: ",", omittingEmptySubsequences: false) {
            guard !hostPort.isEmpty else { throw fail("a sentinel between commas is empty") }
            let hasPort = hostPort.hasPrefix("[") ? hostPort.contains("]:") : hostPort.contains(":")
            var (host, port) = try parseHostAndPort(hostPort)
            if !hasPort { port = SentinelDeployment.defaultSentinelPort }
            sentinels.append(RedisEndpoint(address: .tcp(host: host, port: port), username: sentinelUser, password: sentinelPassword, tls: tls))
        }
        return SentinelDeployment(
            masterName: masterName, sentinels: sentinels, username: username, password: password, database: database, tls: tls)
    }

    private func parseUnix(_ rest: inout Substring) throws -> RedisEndpoint {
        let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
        let query = rest[queryStart...].dropFirst()
        var beforeQuery = rest[..<queryStart]

        // Everything before the path's leading '/' is userinfo (`:pass@`).
        guard let pathStart = beforeQuery.firstIndex(of: "/") else {
            throw fail("the socket path is missing or not absolute (unix:///path/to/socket)")
        }
        var authority = beforeQuery[..<pathStart]
        let (username, password) = try takeUserinfo(&authority)
        guard authority.isEmpty || authority == "localhost" else {
            throw fail("a unix:// URL names no host, but found '\(authority)'; write unix:///path or unix://:password@/path")
        }
        beforeQuery = beforeQuery[pathStart...]
        guard beforeQuery.count > 1 else { throw fail("the socket path is missing") }
        let path = try decode(beforeQuery, what: "socket path")

        var database = 0
        if !query.isEmpty {
            for pair in query.split(separator: "&") {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard keyValue.count == 2, keyValue[0] == "db" else {
                    throw fail("unknown query parameter '\(pair)'; only db=N is supported")
                }
                database = try parseDatabase(keyValue[1], source: "db parameter")
            }
        }
        return RedisEndpoint(address: .unixSocket(path: path), username: username, password: password, database: database)
    }

    /// Removes `user:password@` from the front of `authority`. The last '@'
    /// separates it from the host, so an unencoded '@' in a password works.
    private func takeUserinfo(_ authority: inout Substring) throws -> (String?, String?) {
        guard let at = authority.lastIndex(of: "@") else { return (nil, nil) }
        let userinfo = authority[..<at]
        authority = authority[authority.index(after: at)...]
        let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let username = parts[0].isEmpty ? nil : try decode(parts[0], what: "user name")
        let password = parts.count < 2 || parts[1].isEmpty ? nil : try decode(parts[1], what: "password")
        if username != nil && password == nil {
            throw fail("user '\(username!)' has no password; write user:password@ for an ACL user or :password@ for a password only")
        }
        return (username, password)
    }

    private func parseDatabase(_ text: Substring, source: String) throws -> Int {
        guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCIIDigit), let value = Int(text) else {
            throw fail("the database \(source) '\(text)' is not a non-negative number")
        }
        return value
    }

    /// Percent-decodes strictly: '%' must be followed by two hex digits and
    /// the result must be UTF-8, because a silently mangled password only
    /// shows up later as a confusing WRONGPASS.
    private func decode(_ text: Substring, what: String) throws -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw fail("the \(what) has a '%' not followed by two hex digits (write '%25' for a literal '%')")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw fail("the \(what) is not valid UTF-8 after percent-decoding")
        }
        return decoded
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The URL with any userinfo replaced, so errors never leak a password.
    ///
    /// Userinfo runs to the last '@' of the URL (a password may hold a raw
    /// '/' or '?'), except in a URL whose rest starts with '/': a unix socket
    /// path without login, which may itself contain '@'.
    private var redactedURL: String {
        Self.redactingQueryPassword(redactingUserinfo)
    }

    private var redactingUserinfo: String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let searched = rest.hasPrefix("/") ? rest[..<rest.startIndex] : rest
        guard let at = searched.lastIndex(of: "@") else { return url }
        return url[..<schemeEnd.upperBound] + "***@" + rest[rest.index(after: at)...]
    }

    /// A Sentinel URL's `sentinelPassword=` value, replaced.
    private static func redactingQueryPassword(_ text: String) -> String {
        guard let key = text.range(of: "sentinelPassword=") else { return text }
        let end = text[key.upperBound...].firstIndex(of: "&") ?? text.endIndex
        return text[..<key.upperBound] + "***" + text[end...]
    }

    /// Refuses a login holding a raw '/', '?' or '#' before anything else
    /// is parsed: those characters would end the authority early, and the
    /// error messages below quote the parts they name, password included.
    private func checkLoginIsEncoded(_ rest: Substring) throws {
        guard !rest.hasPrefix("/"), let at = rest.lastIndex(of: "@"),
            rest[..<at].contains(where: { $0 == "/" || $0 == "?" || $0 == "#" })
        else { return }
        throw fail("the user name or password holds a raw '/', '?' or '#'; percent-encode them as %2F, %3F and %23")
    }

    private func fail(_ problem: String) -> RWLockError {
        .invalidConfiguration("'\(redactedURL)' is not a valid Redis URL: \(problem); \(Self.expectedForms).")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
