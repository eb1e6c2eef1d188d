import ArgumentParser
import RWLock

/// `rwlock acl [--prefix P]`: the ACL rules of a least-privilege lock user.
struct AclCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Print, on one line, the ACL rules a Redis user needs to use locks under --prefix, and nothing more.",
        discussion: """
            Ready for ACL SETUSER: redis-cli ACL SETUSER locks on '>password' $(rwlock acl). The rules allow the \
            commands rwlock and the library send and their scripts call, on keys and channels under the prefix \
            only. A user missing one is refused at its first acquire (exit 78), before anything changes.
            """)
    @OptionGroup var keys: PrefixOption

    func run() throws {
        do {
            print(try RWLock.aclRules(keyPrefix: keys.prefix))
        } catch {
            Exit.fail(error)
        }
    }
}
