/// Which Redis a ``RWLockClient`` talks to: one server, a Redis Cluster, or a
/// master that Redis Sentinel watches and fails over.
///
/// Usually parsed from a URL, the same way for all three:
///
/// ```swift
/// let single = try RedisDeployment(url: "redis://10.0.0.5:6379/2")
/// let cluster = try RedisDeployment(url: "redis+cluster://10.0.0.5:7000,10.0.0.6:7000")
/// let sentinel = try RedisDeployment(url: "redis+sentinel://10.0.0.5:26379,10.0.0.6:26379/mymaster")
/// ```
///
/// A cluster URL, `redis+cluster://[[user]:password@]host:port[,host:port…]`
/// (`rediss+cluster://` for TLS), lists *seed* nodes: the client asks the
/// first that answers for the slot map (`CLUSTER SLOTS`) and learns every
/// other node from it, so a few seeds are enough. All nodes share the URL's
/// login. A cluster has only database 0 (`/0` is accepted, any other
/// database refused).
///
/// A Sentinel URL, `redis+sentinel://[[user]:password@]host:port[,host:port…]/MASTER[?db=N]`
/// (`rediss+sentinel://` for TLS to the sentinels and the data nodes), lists
/// sentinels (port 26379 when omitted) and names the master they watch. The
/// URL's login is the data nodes'; sentinels that require their own login
/// take it from the query: `sentinelUser=NAME&sentinelPassword=PASSWORD`
/// (percent-encoded), or, in code, from each sentinel's ``RedisEndpoint``.
///
/// A struct, so that kinds of deployment can be added without breaking
/// anyone's `switch`.
public struct RedisDeployment: Sendable, Hashable, CustomStringConvertible {
    enum Kind: Sendable, Hashable {
        case server(RedisEndpoint)
        case cluster(seeds: [RedisEndpoint])
        case sentinel(SentinelDeployment)
    }

    let kind: Kind

    private init(_ kind: Kind) { self.kind = kind }

    /// One Redis server (or a primary behind a fixed address).
    public static func server(_ endpoint: RedisEndpoint) -> RedisDeployment { RedisDeployment(.server(endpoint)) }

    /// A Redis Cluster, found through these seed nodes (at least one, TCP).
    /// Each lock lives on the master serving the slot of its `{name}`.
    public static func cluster(seeds: [RedisEndpoint]) -> RedisDeployment { RedisDeployment(.cluster(seeds: seeds)) }

    /// The master named `master` that `sentinels` watch (TCP endpoints, each
    /// with the login and TLS settings of the sentinel itself, at least one).
    /// The client asks them where the master is and follows it when they
    /// fail it over.
    ///
    /// - Parameters:
    ///   - master: the name the sentinels monitor the master under.
    ///   - sentinels: the sentinels, at least one.
    ///   - username: the data nodes' ACL user; nil for `default`.
    ///   - password: the data nodes' password; nil sends no `AUTH`.
    ///   - database: selected on every data node.
    ///   - tls: how to speak TLS to the data nodes; nil for plain TCP.
    public static func sentinel(
        master: String, sentinels: [RedisEndpoint], username: String? = nil, password: String? = nil, database: Int = 0,
        tls: TLSConfiguration? = nil
    ) -> RedisDeployment {
        RedisDeployment(.sentinel(SentinelDeployment(
            masterName: master, sentinels: sentinels, username: username, password: password, database: database, tls: tls)))
    }

    /// Parses a server URL (every form ``RedisEndpoint/init(url:)`` accepts),
    /// a cluster URL or a Sentinel URL.
    ///
    /// - Throws: ``RWLockError`` `.invalidConfiguration` naming what is
    ///   wrong; the password is never echoed.
    public init(url: String) throws {
        let scheme = url.lowercased()
        if scheme.hasPrefix("redis+cluster://") || scheme.hasPrefix("rediss+cluster://") {
            self = .cluster(seeds: try EndpointParser(url: url).parseClusterSeeds())
        } else if scheme.hasPrefix("redis+sentinel://") || scheme.hasPrefix("rediss+sentinel://") {
            self.init(.sentinel(try EndpointParser(url: url).parseSentinel()))
        } else {
            self = .server(try RedisEndpoint(url: url))
        }
    }

    /// The deployment named by the `REDIS_URL` environment variable (any
    /// kind of URL), or ``RedisEndpoint/defaultURL`` when it is unset or
    /// empty.
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

    /// The same deployment with `tls` as the TLS settings of every node (the
    /// sentinels' too).
    ///
    /// - Throws: `.invalidConfiguration` when the deployment does not use
    ///   TLS: settings for it must not be ignored in silence.
    public func usingTLS(_ tls: TLSConfiguration) throws -> RedisDeployment {
        try tls.validate()
        func apply(_ endpoint: RedisEndpoint) throws -> RedisEndpoint {
            guard endpoint.tls != nil else {
                throw RWLockError.invalidConfiguration(
                    "TLS settings were given for \(endpoint), which does not use TLS; write rediss:// (or rediss+cluster://, "
                        + "rediss+sentinel://)")
            }
            var endpoint = endpoint
            endpoint.tls = tls
            return endpoint
        }
        switch kind {
        case .server(let endpoint): return .server(try apply(endpoint))
        case .cluster(let seeds): return .cluster(seeds: try seeds.map(apply))
        case .sentinel(var sentinel):
            sentinel.sentinels = try sentinel.sentinels.map(apply)
            sentinel.tls = tls
            return RedisDeployment(.sentinel(sentinel))
        }
    }

    /// The same deployment with `password` for the data nodes that have no
    /// password of their own (the sentinels keep theirs): for a password
    /// kept out of the URL, as `rwlock` takes it from `REDISCLI_AUTH`.
    public func withPassword(_ password: String) -> RedisDeployment {
        func apply(_ endpoint: RedisEndpoint) -> RedisEndpoint {
            var endpoint = endpoint
            if endpoint.password == nil { endpoint.password = password }
            return endpoint
        }
        switch kind {
        case .server(let endpoint): return .server(apply(endpoint))
        case .cluster(let seeds): return .cluster(seeds: seeds.map(apply))
        case .sentinel(var sentinel):
            if sentinel.password == nil { sentinel.password = password }
            return RedisDeployment(.sentinel(sentinel))
        }
    }

    /// The URL, with any password shown as `***`.
    public var description: String {
        switch kind {
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
        case .sentinel(let sentinel):
            return sentinel.description
        }
    }
}
