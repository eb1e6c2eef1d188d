extension RWLockClient {
    /// How an ``RWLockClient`` connects and how long it waits: one value,
    /// checked when the client is made.
    ///
    /// ```swift
    /// var configuration = RWLockClient.Configuration()
    /// configuration.maxConnections = 8
    /// configuration.tls = TLSConfiguration(caFile: "/etc/ssl/redis-ca.pem")
    /// let client = try RWLockClient(url: "rediss://redis.internal:6380", configuration: configuration)
    /// ```
    public struct Configuration: Sendable, Hashable {
        /// Connections (each with a thread of its own) per server; on a
        /// cluster, per node. At least 1. Callers beyond it queue.
        public var maxConnections: Int
        /// How long opening a connection (and a TLS handshake) may take;
        /// positive.
        public var connectTimeout: Duration
        /// How long one command may wait for its reply; positive. A
        /// connection that times out is discarded, and the command counts as
        /// possibly run: it is never resent.
        public var commandTimeout: Duration
        /// On a cluster or behind Sentinel, how long a command that could not
        /// run (its node unreachable, TRYAGAIN, CLUSTERDOWN, the slot map or
        /// the master not yet known, a master that turned replica) keeps
        /// being retried; make it longer than a failover takes (about the
        /// cluster's `cluster-node-timeout` plus one second; Sentinel's
        /// `down-after-milliseconds` plus a few seconds). At least zero. An
        /// acquire's own timeout cuts it short. Ignored for one server.
        public var clusterRetryWindow: Duration
        /// How to speak TLS (CA, client certificate, server name) to a
        /// `rediss://`, `rediss+cluster://` or `rediss+sentinel://`
        /// deployment; nil for the default, which verifies the server against
        /// the system's trust store. Given for a deployment without TLS, the
        /// client refuses to start.
        public var tls: TLSConfiguration?

        /// The defaults: 4 connections, 2 s to connect and per command, 10 s
        /// of failover retries, TLS verified against the system's trust store.
        public init(
            maxConnections: Int = 4,
            connectTimeout: Duration = .seconds(2),
            commandTimeout: Duration = .seconds(2),
            clusterRetryWindow: Duration = .seconds(10),
            tls: TLSConfiguration? = nil
        ) {
            self.maxConnections = maxConnections
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
            self.clusterRetryWindow = clusterRetryWindow
            self.tls = tls
        }

        /// Throws `.invalidConfiguration` naming the first unusable setting.
        func validate() throws {
            if maxConnections < 1 {
                throw RWLockError.invalidConfiguration("maxConnections must be at least 1, got \(maxConnections)")
            }
            if connectTimeout <= .zero {
                throw RWLockError.invalidConfiguration("connectTimeout must be positive, got \(connectTimeout)")
            }
            if commandTimeout <= .zero {
                throw RWLockError.invalidConfiguration("commandTimeout must be positive, got \(commandTimeout)")
            }
            if clusterRetryWindow < .zero {
                throw RWLockError.invalidConfiguration("clusterRetryWindow must not be negative, got \(clusterRetryWindow)")
            }
        }
    }
}

extension RedisDeployment {
    /// Throws `.invalidConfiguration` for a deployment no client can use (a
    /// cluster without seeds, Sentinel without sentinels), which only
    /// code, not a URL, can build.
    func validateForClient() throws {
        switch kind {
        case .server: return
        case .cluster(let seeds) where seeds.isEmpty:
            throw RWLockError.invalidConfiguration("a cluster deployment needs at least one seed node")
        case .sentinel(let sentinel) where sentinel.sentinels.isEmpty:
            throw RWLockError.invalidConfiguration("a Sentinel deployment needs at least one sentinel")
        case .cluster, .sentinel: return
        }
    }
}
