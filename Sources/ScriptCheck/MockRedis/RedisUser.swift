/// The ACL user a script runs as: every permission but the ones it is
/// denied. Redis checks a script's command against it after the command's
/// arity and `noscript` flag and before running it (script.c `scriptCall`),
/// and `redis.acl_check_cmd` asks it the same question without running
/// anything (script_lua.c).
///
/// Redis's rules are allow-lists; "everything but one rule" is what the
/// checker needs to prove R6 (a script missing any one permission fails
/// before its first write), one denial at a time. A denial of a command on
/// one key is a user whose root selector lacks the command and a second
/// selector grants it on the other keys, and Redis then reports the key.
public struct RedisUser: Hashable, Sendable, CustomStringConvertible {
    /// One permission the user lacks.
    public enum Denial: Hashable, Sendable, CustomStringConvertible {
        /// A command, by its lowercased name, on every key.
        case command(String)
        /// A command, by its lowercased name, on one key only.
        case commandOnKey(String, key: [UInt8])
        /// Every command on one key (a key outside the user's patterns).
        case key([UInt8])
        /// Publishing or subscribing to one channel.
        case channel([UInt8])

        public var description: String {
            switch self {
            case .command(let name): return "\(name.uppercased()) denied"
            case .commandOnKey(let name, let key): return "\(name.uppercased()) denied on \(String(decoding: key, as: UTF8.self))"
            case .key(let key): return "key \(String(decoding: key, as: UTF8.self)) denied"
            case .channel(let channel): return "channel \(String(decoding: channel, as: UTF8.self)) denied"
            }
        }
    }

    /// Why Redis refused a command: the three ACL results a script can
    /// meet, with the reason `getAclErrorMessage` gives for each.
    public enum Refusal: Hashable, Sendable {
        case command, key, channel

        /// Whether Redis finds this refusal before `other`.
        func precedes(_ other: Refusal) -> Bool {
            switch (self, other) {
            case (.command, .key), (.command, .channel), (.key, .channel): return true
            default: return false
            }
        }

        /// The error a refused `redis.call` raises and `redis.pcall`
        /// returns (Redis 7.0.15, `scriptVerifyACL`).
        public var message: String {
            switch self {
            case .command: return "ERR The user executing the script can't run this command or subcommand"
            case .key: return "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments"
            case .channel: return "ERR The user executing the script can't publish to the channel mentioned in the command"
            }
        }
    }

    public var denials: Set<Denial>

    /// A user with every permission, like Redis's `default` user out of the box.
    public static let unrestricted = RedisUser(denials: [])

    public init(denials: Set<Denial>) { self.denials = denials }

    /// A user lacking just `denial`.
    public init(denying denial: Denial) { self.denials = [denial] }

    public var isUnrestricted: Bool { denials.isEmpty }

    public var description: String {
        isUnrestricted ? "every permission" : denials.map(\.description).sorted().joined(separator: ", ")
    }

    /// Redis's `ACLSelectorCheckCmd` for this user: the command first, then
    /// its keys, then its channels; nil when `args` may run.
    /// - Parameters:
    ///   - args: the command as called, its name first.
    ///   - name: its lowercased name (a container's, for a subcommand).
    ///   - info: its table entry, for the key positions.
    func refusal(_ args: [[UInt8]], name: String, info: RedisCommandInfo?) -> Refusal? {
        guard !denials.isEmpty else { return nil }
        // A user lacks one or two permissions: comparing each is cheaper
        // than hashing the arguments into set lookups.
        var refusal: Refusal?
        for denial in denials {
            let found: Refusal?
            switch denial {
            case .command(let denied):
                found = denied == name ? .command : nil
            case .commandOnKey(let denied, let key):
                found = denied == name && MockRedis.keyPositions(args.count, info: info).contains { args[$0] == key } ? .key : nil
            case .key(let key):
                found = MockRedis.keyPositions(args.count, info: info).contains { args[$0] == key } ? .key : nil
            case .channel(let channel):
                found = RedisUser.channelPositions(args.count, name: name).contains { args[$0] == channel } ? .channel : nil
            }
            // Redis checks the command, then its keys, then its channels.
            if let found, refusal.map({ found.precedes($0) }) ?? true { refusal = found }
        }
        return refusal
    }

    /// Where a command names channels, as Redis 7.0's
    /// `commands_with_channels` table says (db.c): PUBLISH and SPUBLISH
    /// their first argument, the subscribe commands every argument. A
    /// PSUBSCRIBE pattern is refused only when it is the denied channel
    /// itself, as Redis compares patterns with its rules literally.
    static func channelPositions(_ count: Int, name: String) -> Range<Int> {
        switch name {
        case "publish", "spublish": return 1..<min(2, max(1, count))
        case "subscribe", "ssubscribe", "psubscribe": return 1..<max(1, count)
        default: return 1..<1
        }
    }
}
