/// R6: a Redis user missing a permission the lock needs is refused at its
/// first acquire, naming what to add, before any key of the lock changes.
///
/// Before this client's first acquire under a key prefix, every command a
/// lock user runs is queued inside MULTI, with this lock's keys and channel,
/// and the transaction discarded: Redis checks each queued command against
/// the user's ACL (command, keys, channels) and answers NOPERM, but runs
/// none. The scripts check again themselves before their first write
/// (`redis.acl_check_cmd`), for what differs between locks of one prefix.
extension RWLock {
    /// Checks once per client and key prefix; later calls return at once.
    ///
    /// - Throws: ``RWLockError`` `.permissionDenied` naming every missing
    ///   rule; a transport error as any command does (then nothing is
    ///   recorded, and the next acquire checks again).
    func checkPermissionsOnce() async throws {
        let prefix = options.keyPrefix
        guard !client.permissionsChecked.withLock({ $0.contains(prefix) }) else { return }
        let probes = permissionProbes()
        guard let replies = try await client.queueAndDiscard(probes.map(\.command), routingKey: keys[0]) else { return }
        var missing: [String] = []
        var refused: [String] = []
        if replies.first != .status("OK") {
            // Nothing was queued: without MULTI nothing else can be checked.
            missing = ["+multi", "+discard"]
            refused = ["MULTI: \(replies.first.map(describe) ?? "no reply")"]
        } else {
            for (probe, reply) in zip(probes, replies.dropFirst()) {
                guard case .error(let message) = reply, message.hasPrefix("NOPERM") else { continue }
                let rule =
                    if message.contains("keys") { "~\(prefix)*" }
                    else if message.contains("channels") { "&\(prefix)*" }
                    else { "+" + probe.rule }
                if !missing.contains(rule) { missing.append(rule) }
                refused.append("\(probe.shown): \(message)")
            }
        }
        guard missing.isEmpty else {
            let user = client.endpoint.username ?? "default"
            throw RWLockError.permissionDenied(
                "the Redis user \(user) may not do what lock \(name) needs: \(refused.joined(separator: "; ")); add "
                    + "\(missing.joined(separator: " ")) (ACL SETUSER \(user) \(missing.joined(separator: " "))), or give it "
                    + "every rule of rwlock acl --prefix \(prefix)")
        }
        client.permissionsChecked.withLock { _ = $0.insert(prefix) }
    }

    /// One queued command per permission: the rule that grants it, the
    /// command with this lock's keys, and how to show it.
    private func permissionProbes() -> [(rule: String, shown: String, command: [[UInt8]])] {
        let (writer, readers, fence, intents, channel) = (keys[0], keys[1], keys[5], keys[4], keys[6])
        let probe = Array("rwlock-permission-probe".utf8)
        var probes: [(String, [[UInt8]])] = [
            // EVALSHA checks the keys it declares (all seven, the channel's
            // name among them); this digest names no script, so it could
            // not run even outside MULTI.
            ("evalsha", [Array("EVALSHA".utf8), Array(String(repeating: "0", count: 40).utf8), Array("7".utf8)] + keys),
            ("script|load", [Array("SCRIPT".utf8), Array("LOAD".utf8), Array("return 0".utf8)]),
            ("info", [Array("INFO".utf8), Array("memory".utf8)]),
            ("subscribe", [Array("SUBSCRIBE".utf8), channel]),
            ("unsubscribe", [Array("UNSUBSCRIBE".utf8), channel]),
            ("client|setname", [Array("CLIENT".utf8), Array("SETNAME".utf8), probe]),
        ]
        if options.replicatedGrants != nil { probes.append(("wait", [Array("WAIT".utf8), Array("0".utf8), Array("0".utf8)])) }
        if client.endpoint.database != 0 {
            probes.append(("select", [Array("SELECT".utf8), Array(String(client.endpoint.database).utf8)]))
        }
        switch client.deployment.kind {
        case .cluster:
            probes.append(("cluster|slots", [Array("CLUSTER".utf8), Array("SLOTS".utf8)]))
            probes.append(("asking", [Array("ASKING".utf8)]))
        case .sentinel:
            probes.append(("role", [Array("ROLE".utf8)]))
        case .server:
            break
        }
        // What the scripts call, each on a key it is used on.
        let scriptProbes: [String: [[UInt8]]] = [
            "del": [writer], "exists": [writer], "get": [fence], "hget": [writer, Array("token".utf8)],
            "hset": [writer, Array("token".utf8), probe], "pexpireat": [writer, Array("0".utf8)], "pttl": [writer],
            "publish": [channel, probe], "set": [fence, Array("0".utf8)], "time": [], "type": [writer],
            "zadd": [readers, Array("0".utf8), probe], "zrange": [readers, Array("0".utf8), Array("-1".utf8)],
            "zrangebyscore": [intents, Array("0".utf8), Array("1".utf8)], "zrem": [readers, probe],
            "zremrangebyscore": [readers, Array("0".utf8), Array("1".utf8)], "zscore": [readers, probe],
        ]
        for command in LockUserRules.scriptCommands {
            // A command without a probe here is caught by the scripts' own
            // check; LockUserRulesTests keeps this table complete.
            guard let arguments = scriptProbes[command] else { continue }
            probes.append((command, [Array(command.uppercased().utf8)] + arguments))
        }
        return probes.map { rule, command in
            (rule, command.prefix(3).map { String(decoding: $0, as: UTF8.self) }.joined(separator: " "), command)
        }
    }

    private func describe(_ reply: RESPValue) -> String {
        if case .error(let message) = reply { return message }
        return "\(reply)"
    }
}
