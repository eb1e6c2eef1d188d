/// A master watched by Redis Sentinel: where the sentinels are, which
/// master of theirs, and how to log in to the data nodes (the sentinels'
/// own logins are on their endpoints).
struct SentinelDeployment: Sendable, Hashable, CustomStringConvertible {
    /// The name the sentinels monitor the master under (`mymaster`).
    var masterName: String
    /// The sentinels, TCP, each with its own login and TLS settings.
    var sentinels: [RedisEndpoint]
    /// The data nodes' login, database and TLS settings.
    var username: String?
    var password: String?
    var database: Int
    var tls: TLSConfiguration?

    /// The sentinels' port when a URL gives none.
    static let defaultSentinelPort = 26379

    /// A data node at `node` with the data nodes' login.
    func endpoint(for node: NodeAddress) -> RedisEndpoint {
        RedisEndpoint(address: .tcp(host: node.host, port: node.port), username: username, password: password,
                      database: database, tls: tls)
    }

    /// The URL, passwords shown as `***`.
    var description: String {
        let login = RedisEndpoint(address: .tcp(host: "", port: 0), username: username, password: password).redactedUserinfo
        let hosts = sentinels.map { sentinel -> String in
            guard case .tcp(let host, let port) = sentinel.address else { return sentinel.description }
            return NodeAddress(host: host, port: port).description
        }
        var query: [String] = database == 0 ? [] : ["db=\(database)"]
        if let user = sentinels.first?.username { query.append("sentinelUser=\(user)") }
        if sentinels.first?.password != nil { query.append("sentinelPassword=***") }
        let scheme = tls == nil ? "redis+sentinel" : "rediss+sentinel"
        return "\(scheme)://\(login)\(hosts.joined(separator: ","))/\(masterName)" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }
}
