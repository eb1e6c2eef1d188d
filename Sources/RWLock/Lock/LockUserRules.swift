/// R6: what a Redis user needs to use the lock, and nothing broader: the
/// commands the client sends and the scripts call, keys and channels under
/// the lock's key prefix.
///
/// The scripts' commands are read from their sources (the embedded
/// `lua/`), so a script that starts using a command puts it in the rules;
/// the client's own are listed here, each with the code that sends it, and
/// `LeastPrivilegeTests` checks both against what reaches a real server.
enum LockUserRules {
    /// Commands the client itself sends, by their ACL names (`script|load`
    /// names a subcommand), and what sends each.
    static let clientCommands: [(name: String, sentBy: String)] = [
        ("evalsha", "every lock operation (RWLockClient+Scripts.swift)"),
        ("script|load", "a script the server does not have yet, after NOSCRIPT (RWLockClient+Scripts.swift)"),
        ("info", "INFO memory and INFO server, once per connection: R3 and R4 (ServerSafety.swift)"),
        ("wait", "replicated grants (RWLockClient+Scripts.swift)"),
        ("subscribe", "waiters waking on the lock's channel (Subscriber.swift)"),
        ("unsubscribe", "the same, when no waiter is left (Subscriber.swift)"),
        ("client|setname", "the subscriber naming its connection (Subscriber.swift)"),
        ("select", "a database other than 0 (HiredisConnection.swift)"),
        ("cluster|slots", "a Redis Cluster's slot map (ClusterRouter.swift)"),
        ("asking", "a Redis Cluster slot in migration (ClusterRouter.swift)"),
        ("role", "behind Sentinel, the master found proving it is one (SentinelRouter.swift)"),
        ("del", "RWLock.reset(), for operators (RWLock+Operator.swift)"),
        ("multi", "the permission check itself (RWLock+Permissions.swift)"),
        ("discard", "the same"),
    ]

    /// Commands the scripts name to Redis, lowercased, read from their
    /// sources: the first argument of every `call`, `pcall` and
    /// `acl_check_cmd` of the `redis` table that is a quoted literal.
    static let scriptCommands: [String] = {
        var names: Set<String> = []
        for script in LockScript.all {
            names.formUnion(commandsNamed(in: String(decoding: script.source, as: UTF8.self)))
        }
        return names.sorted()
    }()

    /// The literal command names `source` passes to the `redis` table's
    /// command functions.
    static func commandsNamed(in source: String) -> Set<String> {
        let functions: Set<Substring> = ["call", "pcall", "acl_check_cmd"]
        var names: Set<String> = []
        var rest = source[...]
        while let table = rest.range(of: "redis.") {
            rest = rest[table.upperBound...]
            let function = rest.prefix { $0.isLetter || $0 == "_" }
            guard functions.contains(function) else { continue }
            let arguments = rest.dropFirst(function.count).drop { $0 == " " }
            guard arguments.first == "(" else { continue }
            let literal = arguments.dropFirst().drop { $0 == " " }
            guard let quote = literal.first, quote == "'" || quote == "\"" else { continue }
            let name = literal.dropFirst().prefix { $0.isLetter }
            if !name.isEmpty { names.insert(name.lowercased()) }
        }
        return names
    }

    /// Every command a lock user runs, sorted.
    static var commands: [String] { Set(clientCommands.map(\.name) + scriptCommands).sorted() }

    /// The rules on one line, ready for `ACL SETUSER name on >password RULES`.
    static func rules(keyPrefix: String) -> String {
        (["resetkeys", "~\(keyPrefix)*", "resetchannels", "&\(keyPrefix)*", "-@all"] + commands.map { "+" + $0 })
            .joined(separator: " ")
    }
}

extension RWLock {
    /// The ACL rules of a Redis user that can use locks whose keys start with
    /// `keyPrefix` — take, wait for (woken by pub/sub), renew, downgrade and
    /// release them, and inspect, evict and reset them — and do nothing
    /// else: the commands the client sends and its scripts call, keys and
    /// channels under the prefix. One line, ready for `ACL SETUSER`:
    ///
    /// ```swift
    /// let rules = try RWLock.aclRules(keyPrefix: "billing:")
    /// // ACL SETUSER billing-locks on >s3cret <rules>
    /// ```
    ///
    /// - Throws: ``RWLockError`` `.invalidConfiguration` for a prefix
    ///   ``Options/keyPrefix`` would refuse.
    public static func aclRules(keyPrefix: String = "rwlock:") throws -> String {
        try Options.validate(keyPrefix: keyPrefix)
        return LockUserRules.rules(keyPrefix: keyPrefix)
    }
}
