/// What a server said about itself, in `INFO memory` and `INFO server`, when
/// a connection to it was first asked to grant: enough to judge R3 (may it
/// evict the lock's keys?) and R4 (has it been up long enough to have
/// forgotten no lease?).
///
/// Read once per connection, not per acquire. A restart always breaks the
/// connection, so a connection's reading can never describe an earlier
/// incarnation of its server; uptime is carried forward on this process's
/// monotonic clock from the moment of reading.
struct ServerProfile: Sendable, Hashable {
    /// `maxmemory`, in bytes; 0 for no limit.
    var maxmemory: Int64
    /// `maxmemory_policy`, as INFO spells it (`noeviction`, `volatile-ttl`…).
    var policy: String
    /// `uptime_in_seconds` at the reading. Redis computes it as the
    /// difference of two whole-second wall-clock readings, so it can exceed
    /// the true uptime by almost a second (a server started at 100.95 says 1
    /// at 101.00); negative after a backward clock step, read as 0.
    var uptimeSeconds: Int64
    /// When the reply arrived, on this process's monotonic clock: the
    /// uptime was measured at or before it.
    var readAt: ContinuousClock.Instant

    /// Whether the server may drop keys before their expiry.
    var mayEvict: Bool { maxmemory > 0 && policy != "noeviction" }

    /// The server's uptime at `now`, never overstated: a second less than
    /// reported (Redis's whole-second rounding can add up to one), carried
    /// forward from the reply's arrival.
    func uptime(at now: ContinuousClock.Instant) -> Duration {
        .seconds(max(uptimeSeconds - 1, 0)) + (now - readAt)
    }

    /// Parses the replies to `INFO memory` and `INFO server`: `field:value`
    /// lines under `# Section` headers. Nil when a field is missing.
    init?(memory: String, server: String, readAt: ContinuousClock.Instant) {
        let fields = Self.fields(memory).merging(Self.fields(server)) { first, _ in first }
        guard let maxmemory = fields["maxmemory"].flatMap({ Int64($0) }),
            let policy = fields["maxmemory_policy"],
            let uptime = fields["uptime_in_seconds"].flatMap({ Int64($0) })
        else { return nil }
        self.maxmemory = maxmemory
        self.policy = policy
        self.uptimeSeconds = max(uptime, 0)
        self.readAt = readAt
    }

    private static func fields(_ info: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in info.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        return fields
    }
}

/// What a lock command requires of the server before it may run there:
/// checked on the very connection that would carry it, just before sending,
/// so on a cluster each master is judged for itself.
struct ServerRequirements: Sendable, Hashable {
    /// False: refuse a server that may evict keys (R3).
    var allowEviction: Bool
    /// Refuse (for now) a server up for less than this (R4); zero: no
    /// quarantine. Only acquires carry one: a renewal on a restarted server
    /// is refused by the script itself, since the lease is gone.
    var quarantine: Duration

    /// Nothing to check.
    var isEmpty: Bool { allowEviction && quarantine <= .zero }

    /// The two INFO commands whose replies make a ``ServerProfile``.
    static let infoCommands: [[[UInt8]]] = [
        [Array("INFO".utf8), Array("memory".utf8)], [Array("INFO".utf8), Array("server".utf8)],
    ]

    /// Reads the profile from the replies to ``infoCommands``.
    ///
    /// - Throws: `.permissionDenied` when this ACL user may not run INFO;
    ///   `.unsafeServer` when INFO is refused for good (renamed); `.server`
    ///   for another error reply (a
    ///   server busy with a long script), which the next grant retries;
    ///   `.protocolError` for a reply without the fields.
    static func profile(fromReplies replies: [RESPValue], readAt: ContinuousClock.Instant) throws -> ServerProfile {
        for case .error(let message) in replies {
            if message.hasPrefix("NOPERM") {
                // R6: name the rule; R3 and R4 cannot be judged without it.
                throw RWLockError.permissionDenied(
                    "its INFO command answered \"\(message)\", and the lock reads INFO memory and INFO server to tell "
                        + "whether the server may evict its keys or has just restarted; add +info")
            }
            guard message.hasPrefix("ERR unknown command") else {
                throw RWLockError.server(message)
            }
            throw RWLockError.unsafeServer(
                "its INFO command answered \"\(message)\", so neither its eviction policy (maxmemory, "
                    + "maxmemory-policy) nor its uptime can be checked; allow INFO for this user, or opt out "
                    + "with RWLock.Options.allowEviction and restartQuarantine = .disabled (rwlock "
                    + "--allow-eviction --restart-quarantine 0) if you accept the risk")
        }
        func text(_ reply: RESPValue) -> String? {
            if case .bulk(let bytes) = reply { return String(decoding: bytes, as: UTF8.self) }
            return nil
        }
        guard replies.count == 2, let memory = text(replies[0]), let server = text(replies[1]),
            let profile = ServerProfile(memory: memory, server: server, readAt: readAt)
        else {
            throw RWLockError.protocolError("INFO memory / INFO server lacked maxmemory, maxmemory_policy or uptime_in_seconds")
        }
        return profile
    }

    /// Throws when `profile` fails a requirement: `.unsafeServer` naming the
    /// setting, its value and the fix; the internal `.quarantined` with the
    /// time left.
    func verify(_ profile: ServerProfile, server: RedisEndpoint, now: ContinuousClock.Instant) throws {
        if !allowEviction && profile.mayEvict {
            throw RWLockError.unsafeServer(
                "\(server) has maxmemory \(profile.maxmemory) with maxmemory-policy \(profile.policy), so it may "
                    + "evict the lock's keys while their leases run and grant the lock twice; set "
                    + "maxmemory-policy noeviction, or keep locks on a Redis of their own (to accept the risk: "
                    + "RWLock.Options.allowEviction, rwlock --allow-eviction)")
        }
        let uptime = profile.uptime(at: now)
        if uptime < quarantine {
            throw RWLockError.quarantined(
                "\(server) has been up \(uptime.formattedMilliseconds), less than the restart quarantine of "
                    + "\(quarantine.formattedMilliseconds); a restart without persistence forgets every lease "
                    + "while its holder still runs, so it grants nothing until then",
                remaining: quarantine - uptime)
        }
    }
}

extension Duration {
    /// `1234 ms`, for messages.
    var formattedMilliseconds: String { "\(wholeMilliseconds) ms" }
}
