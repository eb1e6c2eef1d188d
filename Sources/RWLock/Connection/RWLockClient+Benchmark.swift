extension RWLockClient {
    /// Sends one text command through the pool and returns its reply as
    /// text, for the package's own tools (`rwlock-bench` measures the floor
    /// of a lock cycle — bare EVALSHA, PING — on the same connections the
    /// lock uses). Not public API: `package` visibility keeps it inside
    /// this package.
    ///
    /// - Returns: the status line, bulk string (UTF-8, lossy) or integer as
    ///   text; `nil` for a nil reply; an array as its elements' texts joined
    ///   by spaces.
    /// - Throws: as ``send(_:)``, and ``RWLockError/server(_:)`` for an
    ///   error reply.
    package func benchmarkCommand(_ words: [String]) async throws -> String? {
        Self.benchmarkText(try await send(words).throwingServerError())
    }

    private static func benchmarkText(_ value: RESPValue) -> String? {
        switch value {
        case .status(let text), .error(let text): text
        case .integer(let number): String(number)
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .null, .nullArray: nil
        case .array(let items): items.map { benchmarkText($0) ?? "nil" }.joined(separator: " ")
        }
    }
}
