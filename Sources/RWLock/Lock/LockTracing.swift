import Tracing

/// The spans a lock emits through swift-distributed-tracing, to the tracer
/// passed to `RWLock.init` or the one bootstrapped with
/// `InstrumentationSystem.bootstrap` (none: nothing is recorded).
///
/// | span | kind | from – to | attributes |
/// |---|---|---|---|
/// | `rwlock.acquire` | client | the call – its end | `rwlock.mode`, `rwlock.outcome` (as the metrics' `outcome`), `rwlock.attempts` (acquire scripts sent), `rwlock.fence` (write grants) |
/// | `rwlock.hold` | internal | the grant – the release or loss | `rwlock.mode`, `rwlock.fence` (write), `rwlock.lost` when the lease was lost |
///
/// Both carry OpenTelemetry's database-client attributes where they apply:
/// `db.system.name` = `redis`, and for one server `server.address` and
/// `server.port` (the socket path alone for a Unix socket). With
/// ``RWLock/Options/traceIncludeLockName`` they also carry `rwlock.name`.
/// A scoped body runs with its hold span as the current context, so the
/// spans it starts are the hold's children.
struct LockTracing: Sendable {
    private let tracer: (any Tracer)?
    private let common: [(String, SpanAttribute)]

    init(tracer: (any Tracer)?, lockName: String, includeName: Bool, deployment: RedisDeployment) {
        self.tracer = tracer
        var common: [(String, SpanAttribute)] = [("db.system.name", "redis")]
        if case .server(let endpoint) = deployment.kind {
            switch endpoint.address {
            case .tcp(let host, let port):
                common.append(("server.address", .string(host)))
                common.append(("server.port", .int64(Int64(port))))
            case .unixSocket(let path):
                common.append(("server.address", .string(path)))
            }
        }
        if includeName { common.append(("rwlock.name", .string(lockName))) }
        self.common = common
    }

    private var activeTracer: any Tracer { tracer ?? InstrumentationSystem.tracer }

    /// Starts `rwlock.acquire` for `mode`, a child of the task's context.
    func startAcquire(_ mode: Lease.Mode) -> any Span {
        start("rwlock.acquire", ofKind: .client, mode: mode)
    }

    /// Ends an acquire span with what became of it.
    func endAcquire(
        _ span: any Span, outcome: LockMetrics.Outcome, attempts: Int, fence: Fence?, error: (any Error)?
    ) {
        span.updateAttributes { attributes in
            attributes["rwlock.outcome"] = outcome.rawValue
            attributes["rwlock.attempts"] = attempts
            if let fence { attributes["rwlock.fence"] = Int64(clamping: fence.value) }
        }
        if let error {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error))
        }
        span.end()
    }

    /// Starts `rwlock.hold` for a granted lease.
    func startHold(_ mode: Lease.Mode, fence: Fence?) -> any Span {
        let span = start("rwlock.hold", ofKind: .internal, mode: mode)
        if let fence { span.attributes["rwlock.fence"] = Int64(clamping: fence.value) }
        return span
    }

    private func start(_ operation: String, ofKind kind: SpanKind, mode: Lease.Mode) -> any Span {
        let span = activeTracer.startSpan(operation, ofKind: kind)
        let common = common
        span.updateAttributes { attributes in
            for (key, value) in common { attributes[key] = value }
            attributes["rwlock.mode"] = mode == .write ? "write" : "read"
        }
        return span
    }
}
