/// The fault model's "corrupted or foreign state": lock keys of the wrong
/// type or holding garbage. Every script must answer with an error or a
/// refusal, never a grant, and never run away.
enum ForeignState {
    /// One planted state: commands that set it up, and what it is.
    struct Plant {
        var name: String
        var commands: [[String]]
    }

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

    static func check(scripts: LockScripts, engine: ScriptEngine, config: ExplorationConfig) -> Violation? {
        for plant in plants() {
            for operation in [LockOperation.acquireRead, .acquireWrite, .renew, .downgrade, .release, .withdraw] {
                var world = World(clientCount: 1)
                for command in plant.commands { _ = world.redis.execute(command.map { Array($0.utf8) }) }
                let spec = ClientSpec(operation == .acquireRead ? .reader : .writer)
                let arguments = World.arguments(operation, token: "ghost", spec: spec, config: config)
                let run = world.run(operation, arguments: arguments, scripts: scripts, engine: engine)
                if let problem = run.problems.first {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua \(problem)")
                }
                let granted = Oracle.integers(run.reply).first == 1
                if granted && (operation == .acquireRead || operation == .acquireWrite) {
                    return Violation(invariant: "S7", message: "with \(plant.name), \(operation.rawValue).lua granted a lease instead of reporting the corruption: \(Timeline.describe(run.reply))")
                }
            }
        }
        return nil
    }
}
