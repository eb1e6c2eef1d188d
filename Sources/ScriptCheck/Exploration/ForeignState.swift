/// The fault model's "corrupted or foreign state": lock keys of the wrong
/// type or holding garbage. Every script must answer with an error or a
/// refusal, never a grant, never run away, and never fail halfway (an error
/// leaves the keys as they were). The acquires and inspect report every
/// corruption; the other scripts report a wrong-typed key they would touch,
/// and leave one they do not touch as it was.
enum ForeignState {
    /// One planted state: commands that set it up, and what it is.
    struct Plant {
        var name: String
        var commands: [[String]]
        /// The key the plant corrupts; the error must name it.
        var key: String { commands[0][1] }
        /// A key of the wrong type: every script must refuse it. Garbage in
        /// the fence or a writer without expiry concerns only acquires.
        var wrongType: Bool { !name.contains("garbage") && !name.contains("negative") && !name.contains("expiry") }
    }

    /// How many corrupted states ``check(scripts:engine:config:)`` plants:
    /// each plant on an empty lock and beside two kinds of live lease.
    static var stateCount: Int { plants().count * 3 }

    static func plants() -> [Plant] {
        let key = { (index: Int) in String(decoding: World.keys[index], as: UTF8.self) }
        return [
            Plant(name: "writer key is a string", commands: [["SET", key(0), "x", "PX", "60000"]]),
            Plant(name: "readers key is a string", commands: [["SET", key(1), "3", "PX", "60000"]]),
            Plant(name: "caps key is a hash", commands: [["HSET", key(2), "a", "1"], ["PEXPIRE", key(2), "60000"]]),
            Plant(name: "queue key is a set", commands: [["SADD", key(3), "w"], ["PEXPIRE", key(3), "60000"]]),
            Plant(name: "intents key is a string", commands: [["SET", key(4), "1", "PX", "60000"]]),
            Plant(name: "fence key is a hash", commands: [["HSET", key(5), "f", "1"], ["PEXPIRE", key(5), "60000"]]),
            Plant(name: "fence key holds garbage", commands: [["SET", key(5), "abc", "PX", "60000"]]),
            Plant(name: "fence key is negative", commands: [["SET", key(5), "-5", "PX", "60000"]]),
            Plant(name: "writer key has no expiry", commands: [["HSET", key(0), "token", "ghost", "fence", "1"]]),
        ]
    }

    /// `name`'s snapshot in `redis`, nil when absent.
    private static func key(_ name: String, in redis: MockRedis) -> KeySnapshot? {
        redis.snapshot().first { $0.key == Array(name.utf8) }
    }

    static func check(scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig) -> Violation? {
        // The channel is a pub/sub name, not a stored key: a stray key of that
        // name (any type) must not stop the lock.
        for operation in LockOperation.allCases {
            var world = World(clientCount: 1)
            _ = world.redis.execute(["SADD", String(decoding: World.keys[6], as: UTF8.self), "x"].map { Array($0.utf8) })
            let spec = ClientSpec(operation == .acquireRead ? .reader : .writer)
            let run = world.run(operation, arguments: World.arguments(operation, token: "t", spec: spec, config: config),
                                scripts: scripts, engine: engine)
            if case .error(let text) = run.reply {
                return Violation(invariant: "S7", message: "with a stray key at the channel's name, \(operation.rawValue).lua failed: \(text)")
            }
        }
        // Each corruption is planted on an empty lock, and beside a live
        // lease of the token the scripts are called with (a capped write
        // lease, a capped read lease), so the paths a holder's release, renew
        // or downgrade takes (caps included) meet it too.
        let holdings: [(name: String, operation: LockOperation?, spec: ClientSpec)] = [
            ("", nil, ClientSpec(.writer)),
            (" beside its capped write lease", .acquireWrite, ClientSpec(.writer, capMs: config.leaseMs * 4)),
            (" beside its capped read lease", .acquireRead, ClientSpec(.reader, capMs: config.leaseMs * 4)),
        ]
        for basePlant in plants() {
            for holding in holdings {
            let plant = Plant(name: basePlant.name + holding.name, commands: basePlant.commands)
            for operation in [LockOperation.acquireRead, .acquireWrite, .renew, .downgrade, .release, .withdraw, .inspect] {
                var world = World(clientCount: 1)
                if let acquire = holding.operation {
                    _ = world.run(acquire, arguments: World.arguments(acquire, token: "ghost", spec: holding.spec, config: config),
                                  scripts: scripts, engine: engine)
                }
                // Beside a lease, the corrupted key replaces what was there.
                if holding.operation != nil { _ = world.redis.execute([Array("DEL".utf8), Array(plant.key.utf8)]) }
                for command in plant.commands { _ = world.redis.execute(command.map { Array($0.utf8) }) }
                let planted = world.redis
                let spec = ClientSpec(operation == .acquireRead ? .reader : .writer)
                let arguments = World.arguments(operation, token: "ghost", spec: spec, config: config)
                let run = world.run(operation, arguments: arguments, scripts: scripts, engine: engine)
                if let problem = run.problems.first {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua \(problem)")
                }
                // A retried acquire of the lease the token already holds only
                // reports it: that is no new grant.
                let granted = Oracle.integers(run.reply).first == 1 && operation != holding.operation
                if granted && (operation == .acquireRead || operation == .acquireWrite) {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua granted a lease instead of reporting the corruption: \(Timeline.describe(run.reply))")
                }
                // No partial write: a script that fails leaves the keys as it found them.
                if case .error = run.reply, world.redis != planted {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua failed after changing the lock's keys")
                }
                // A clear error, the lock's own, naming the corrupted key: from
                // the acquires and inspect always; from the other scripts when
                // they would touch the key (a release, renew, downgrade or
                // withdraw that never reads it may succeed, leaving it as it was).
                let retryReport = operation == holding.operation && Oracle.integers(run.reply).first == 1
                let mustReport = ((operation == .acquireRead || operation == .acquireWrite) && !retryReport)
                    || (operation == .inspect && !plant.name.contains("expiry"))
                let mayReport = plant.wrongType
                if case .error(let text) = run.reply {
                    guard (mustReport || mayReport), text.hasPrefix("RWLOCK "), text.contains(plant.key) else {
                        return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua replied \(Timeline.describe(run.reply)), not an RWLOCK error naming \(plant.key)")
                    }
                } else if mustReport {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua replied \(Timeline.describe(run.reply)), not an RWLOCK error naming \(plant.key)")
                } else if mayReport && key(plant.key, in: world.redis) != key(plant.key, in: planted) {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua changed the wrong-typed key \(plant.key) instead of reporting it")
                }
            }
            }
        }
        return nil
    }
}

/// Bad input from a client: every malformed argument is refused with an
/// error reply and changes nothing; every argument at the edge of what is
/// valid is accepted.
enum BadArguments {
    static func check(scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig) -> Violation? {
        let long = String(repeating: "t", count: 200)
        // Per operation: argument lists that must fail, and ones that must not.
        let cases: [(LockOperation, refused: [[String]], accepted: [[String]])] = [
            (.acquireRead,
             [["", "1000", "prefer-writers", "0"], [long + "t", "1000", "prefer-writers", "0"],
              ["t", "0", "prefer-writers", "0"], ["t", "-5", "prefer-writers", "0"], ["t", "1.5", "prefer-writers", "0"],
              ["t", "abc", "prefer-writers", "0"], ["t", "1000", "prefer-nobody", "0"], ["t", "1000", "prefer-writers", "-1"],
              ["t", "1000", "prefer-writers", "x"], ["t", "1000000000", "prefer-writers", "0"],
              ["t", "1000", "prefer-writers", "10000000000"]],
             [[long, "1", "prefer-writers", "0"], ["t", "1000", "prefer-readers", "5"],
              ["t", "999999999", "prefer-writers", "9999999999"]]),
            (.acquireWrite,
             [["", "1000", "1500", "0"], [long + "t", "1000", "1500", "0"], ["t", "0", "1500", "0"],
              ["t", "1000", "0", "0"], ["t", "1000", "1500", "-1"], ["t", "10.5", "1500", "0"],
              ["t", "1000000000", "1500", "0"], ["t", "1000", "1000000000", "0"], ["t", "1000", "1500", "10000000000"]],
             [[long, "1", "1", "0"], ["t", "1000", "1500", "7"], ["t", "999999999", "999999999", "9999999999"]]),
            (.renew, [["", "1000"], ["t", "0"], ["t", "-1"], [long + "t", "1000"], ["t", "1000000000"]],
             [[long, "1"], ["t", "999999999"]]),
            (.downgrade, [["", "1000"], ["t", "0"], [long + "t", "1000"], ["t", "1000000000"]], [[long, "1"], ["t", "999999999"]]),
            (.release, [[""], [long + "t"]], [[long]]),
            (.withdraw, [[""], [long + "t"]], [[long]]),
        ]
        // A cap of 1 ms is a cap: the grant and a renew at once both report 1 ms.
        for (operation, arguments) in [(LockOperation.acquireRead, ["t", "1000", "prefer-writers", "1"]),
                                        (.acquireWrite, ["t", "1000", "1500", "1"])] {
            var world = World(clientCount: 1)
            let grant = world.run(operation, arguments: arguments.map { Array($0.utf8) }, scripts: scripts, engine: engine)
            let renew = world.run(.renew, arguments: [Array("t".utf8), Array("1000".utf8)], scripts: scripts, engine: engine)
            if Oracle.integers(grant.reply).prefix(2) != [1, 1] || Oracle.integers(renew.reply) != [1, 1] {
                return Violation(invariant: "CAP", message: "with a 1 ms cap, \(operation.rawValue).lua replied \(Timeline.describe(grant.reply)) and renew \(Timeline.describe(renew.reply)); both must report 1 ms")
            }
        }
        for (operation, refused, accepted) in cases {
            for arguments in refused {
                var world = World(clientCount: 1)
                let before = world.redis
                let run = world.run(operation, arguments: arguments.map { Array($0.utf8) }, scripts: scripts, engine: engine)
                guard case .error = run.reply else {
                    return Violation(invariant: "S7", message: "\(operation.rawValue).lua accepted bad arguments \(arguments): \(Timeline.describe(run.reply))")
                }
                if world.redis != before {
                    return Violation(invariant: "S7", message: "\(operation.rawValue).lua changed the lock's keys while refusing bad arguments \(arguments)")
                }
            }
            for arguments in accepted {
                var world = World(clientCount: 1)
                let run = world.run(operation, arguments: arguments.map { Array($0.utf8) }, scripts: scripts, engine: engine)
                if case .error(let text) = run.reply {
                    return Violation(invariant: "S7", message: "\(operation.rawValue).lua refused valid arguments \(arguments): \(text)")
                }
            }
        }
        return nil
    }
}
