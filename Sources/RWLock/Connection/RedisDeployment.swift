/// Which Redis a ``RedisClient`` talks to: one server, or a Redis Cluster.
///
/// Usually parsed from a URL, the same way for both:
///
/// ```swift
/// let single = try RedisDeployment(url: "redis://10.0.0.5:6379/2")
/// let cluster = try RedisDeployment(url: "redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
/// ```
///
/// A cluster URL, `redis+cluster://[[user]:password@]host:port[,host:port…]`
/// (`rediss+cluster://` for TLS),
/// lists *seed* nodes: the client asks the first that answers for the slot
/// map (`CLUSTER SLOTS`) and learns every other node from it, so a few seeds
/// are enough. All nodes share the URL's login. A cluster has only
/// database 0 (`/0` is accepted, any other database refused).
public enum RedisDeployment: Sendable, Hashable, CustomStringConvertible {
    /// One Redis server (or a primary behind a fixed address).
    case server(RedisEndpoint)
    /// A Redis Cluster, found through these seed nodes (at least one, TCP).
    /// Each lock lives on the master serving the slot of its `{name}`.
    case cluster(seeds: [RedisEndpoint])

    /// Parses a server URL (every form ``RedisEndpoint/init(url:)`` accepts)
    /// or a `redis+cluster://` URL.
    ///
    /// - Throws: ``RWLockError`` `.invalidConfiguration` naming what is
    ///   wrong; the password is never echoed.
    public init(url: String) throws {
        let isCluster = url.lowercased().hasPrefix("redis+cluster://") || url.lowercased().hasPrefix("rediss+cluster://")
        self = isCluster
            ? .cluster(seeds: try EndpointParser(url: url).parseClusterSeeds())
            : .server(try RedisEndpoint(url: url))
    }

    /// The deployment named by the `REDIS_URL` environment variable (either
    /// kind of URL), or ``RedisEndpoint/defaultURL`` when it is unset or empty.
    public static func fromEnvironment() throws -> RedisDeployment {
        try fromEnvironment(ProcessEnvironment.value(of: "REDIS_URL"))
    }

    /// ``fromEnvironment()`` with the variable's value passed in, for tests.
    static func fromEnvironment(_ redisURL: String?) throws -> RedisDeployment {
        guard let redisURL, !redisURL.isEmpty else { return .server(try RedisEndpoint(url: RedisEndpoint.defaultURL)) }
        do {
            return try RedisDeployment(url: redisURL)
        } catch let error as RWLockError {
            throw RWLockError.invalidConfiguration("REDIS_URL is set but unusable. \(error.detailForWrapping)")
        }
    }

    /// The same deployment with `tls` as every node's TLS settings.
    ///
    /// - Throws: `.invalidConfiguration` when the deployment does not use
    ///   TLS: settings for it must not be ignored in silence.
    public func usingTLS(_ tls: TLSConfiguration) throws -> RedisDeployment {
        try tls.validate()
        func apply(_ endpoint: RedisEndpoint) throws -> RedisEndpoint {
            guard endpoint.tls != nil else {
                throw RWLockError.invalidConfiguration(
                    "TLS settings were given for \(endpoint), which does not use TLS; write rediss:// (or rediss+cluster://)")
            }
            var endpoint = endpoint
            endpoint.tls = tls
            return endpoint
        }
        switch self {
        case .server(let endpoint): return .server(try apply(endpoint))
        case .cluster(let seeds): return .cluster(seeds: try seeds.map(apply))
        }
    }

    /// The URL, with any password shown as `***`.
    public var description: String {
        switch self {
        case .server(let endpoint):
            return endpoint.description
        case .cluster(let seeds):
            // Every seed carries the same login; show it once, before the hosts.
            let hosts = seeds.map { seed -> String in
                guard case .tcp(let host, let port) = seed.address else { return seed.description }
                return NodeAddress(host: host, port: port).description
            }
            let shownLogin = seeds.first?.redactedUserinfo ?? ""
            let scheme = seeds.first?.tls == nil ? "redis+cluster" : "rediss+cluster"
            return "\(scheme)://\(shownLogin)\(hosts.joined(separator: ","))"
        }
    }
}
