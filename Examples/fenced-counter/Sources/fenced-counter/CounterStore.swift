import Logging
import PostgresNIO
import RWLock

/// The counters, in PostgreSQL: the storage the lock protects.
///
/// Each row keeps the fence of the last write it accepted, and a write is
/// applied only with a greater fence. The lock alone cannot stop a writer
/// whose lease lapsed while it was paused (a GC pause, a slow network) from
/// writing after the next holder: the database's fence check does.
struct CounterStore: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Creates the table if it is missing. `fence` is the greatest fencing
    /// token that wrote the row; 0 means "no writer yet", below every real
    /// fence (those are at least the server's time in microseconds).
    ///
    /// Instances starting together would race: two concurrent `CREATE TABLE
    /// IF NOT EXISTS` can both go ahead, and one fails on a catalog unique
    /// key. A transaction-scoped advisory lock makes them take turns.
    func createTable() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.schemaLockKey))", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS counters (name text primary key, value bigint not null, fence bigint not null)",
                logger: logger)
        }
    }

    /// The advisory lock key that serializes schema changes ("fc" "schema").
    private static let schemaLockKey: Int64 = 0x6663_7363_6865_6d61

    /// The counter's value; 0 for a counter never incremented.
    func value(of name: String) async throws -> Int64 {
        let rows = try await client.query("SELECT value FROM counters WHERE name = \(name)", logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        return 0
    }

    /// Reads the counter and writes value + 1 if `fence` is greater than the
    /// row's; returns the new value, or nil when the row holds a fence at
    /// least as great (a later writer got there first: this one is stale).
    ///
    /// The read and the write share a transaction and the read locks the row
    /// (`FOR UPDATE`): the fence check on the write alone would not stop a
    /// stale writer that lands between this read and this write, and whose
    /// increment this write would then overwrite.
    func increment(_ name: String, fence: Fence) async throws -> Int64? {
        // Fences are microseconds since 1970: far below Int64.max until the year 294 247.
        guard let fence = Int64(exactly: fence.value) else { throw StoreError.fenceOutOfRange(fence.value) }
        return try await client.withTransaction(logger: logger) { connection -> Int64? in
            var current = try await lockedValue(of: name, on: connection)
            if current == nil {
                // A first increment: seed the row with fence 0 so that every
                // write below takes the one fenced UPDATE path. DO NOTHING
                // rather than fail if another writer inserted it meanwhile.
                try await connection.query(
                    "INSERT INTO counters (name, value, fence) VALUES (\(name), 0, 0) ON CONFLICT (name) DO NOTHING",
                    logger: logger)
                current = try await lockedValue(of: name, on: connection)
            }
            guard let current else { throw StoreError.rowVanished(name) }
            let updated = try await connection.query(
                """
                UPDATE counters SET value = \(current + 1), fence = \(fence)
                WHERE name = \(name) AND fence < \(fence) RETURNING value
                """,
                logger: logger)
            for try await value in updated.decode(Int64.self) { return value }
            return nil  // no row updated: the fence was refused
        }
    }

    /// The row's value, locked until the transaction ends; nil if no row.
    private func lockedValue(of name: String, on connection: PostgresConnection) async throws -> Int64? {
        let rows = try await connection.query("SELECT value FROM counters WHERE name = \(name) FOR UPDATE", logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        return nil
    }
}

/// Failures of the store that are bugs or corruption, not contention.
enum StoreError: Error {
    case fenceOutOfRange(UInt64)
    case rowVanished(String)
}
