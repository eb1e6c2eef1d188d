import Foundation
import Hummingbird
import Logging
import PostgresNIO
import RWLock
import ServiceLifecycle

/// fenced-counter: counters in PostgreSQL, incremented under a distributed
/// write lock whose fencing token the database checks.
///
/// Three services run in one `ServiceGroup`. A graceful shutdown (SIGTERM
/// or SIGINT) stops them in reverse order: the HTTP server first, which stops
/// accepting and answers every request it had accepted; then PostgreSQL and
/// the lock's client, which those requests still needed.
@main
struct App {
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "fenced-counter")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        do {
            try await run(settings: try Settings.fromEnvironment(), logger: logger)
            logger.info("stopped")
        } catch {
            // A bad setting, a failed service or a drain cut short: say why
            // and exit 1, rather than crash with "Error raised at top level".
            // String(reflecting:): PSQLError's description hides its details.
            logger.critical("stopped: \(String(reflecting: error))")
            exit(1)
        }
    }

    /// Builds the services and runs them until a shutdown signal has drained them.
    static func run(settings: Settings, logger: Logger) async throws {
        let lockClient = try RWLockClient(url: settings.redisURL)
        let postgres = PostgresClient(configuration: settings.database, backgroundLogger: logger)
        let store = CounterStore(client: postgres, logger: logger)

        let router = Router()
        // LOG_REQUESTS=1 logs each request as the server takes it: the test
        // checks against it that a stopped instance answered all it took.
        if ProcessInfo.processInfo.environment["LOG_REQUESTS"] == "1" {
            router.add(middleware: LogRequestsMiddleware(.info))
        }
        CounterRoutes(
            store: store,
            // A lease long enough for a transaction; renewals keep it while
            // one runs longer, and a crashed instance blocks others 5 s at most.
            locks: CounterLocks(client: lockClient, options: RWLock.Options(lease: .seconds(5)), logger: logger),
            lockTimeout: .seconds(10)
        ).register(on: router)

        var app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "fenced-counter"),
            logger: logger)
        // Runs once PostgreSQL's client runs (it is in the group), before the
        // port opens: no request sees a missing table. A shutdown signal
        // while the database is still unreachable cancels the wait.
        app.beforeServerStarts { try await cancelWhenGracefulShutdown { try await store.createTable() } }

        var configuration = ServiceGroupConfiguration(
            // Shut down last to first: the server drains before the clients
            // its requests use go away.
            services: [lockClient, postgres, app],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // A request waits at most 10 s for its lock; a drain still running
        // after 30 s is stuck (a hung database), and is cancelled.
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: configuration).run()
    }
}
