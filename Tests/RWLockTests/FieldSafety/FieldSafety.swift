import Testing

/// The field-safety suites (R2–R5 against real processes, a silenced proxy,
/// evicting and restarted servers), nested here so that they run one test
/// at a time: each starts processes and servers and measures who ran when,
/// and on two cores they would skew each other's timings. `scripts/test`
/// runs them apart from the latency-bound live lock tests for the same
/// reason.
@Suite(.serialized) enum FieldSafety {}
