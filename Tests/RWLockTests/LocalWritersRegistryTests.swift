import Synchronization
import Testing

@testable import RWLock

/// The registry behind ``LocalWritersTests``, without a server: who holds
/// whom back, and when the lock's waiters are woken.
struct LocalWritersRegistryTests {
    @Test func aWritersAttemptOnItsWayHoldsReadersPreferringWritersBack() {
        let woken = Mutex<[[UInt8]]>([])
        let holders = LocalWriters { channel in woken.withLock { $0.append(channel) } }
        let a = Array("a".utf8)
        let now = ContinuousClock.now
        holders.startAttempting("w", on: a)
        #expect(holders.holdBack(readerOn: a, preferringWriters: true, at: now))
        #expect(!holders.holdBack(readerOn: a, preferringWriters: false, at: now), "no intent holds those back")
        #expect(!holders.holdBack(writer: "other", on: a, at: now), "writers are left to the queue")
        // Refused: its place in the queue is registered before the attempt
        // ends, so the readers stay back without a wake.
        holders.startWaiting("w", on: a, arrival: 1)
        holders.stopAttempting("w", on: a)
        #expect(woken.withLock { $0 }.isEmpty)
        #expect(holders.holdBack(readerOn: a, preferringWriters: true, at: now))
        holders.stopWaiting("w", on: a)
        woken.withLock { $0 = [] }
        // Failed (or withdrawn): nothing else holds them back, so they look again.
        holders.startAttempting("w", on: a)
        holders.stopAttempting("w", on: a)
        #expect(woken.withLock { $0 } == [a])
        holders.stopAttempting("w", on: a)
        #expect(woken.withLock { $0 } == [a], "an attempt already ended wakes nobody")
        #expect(holders.count == 0)
        woken.withLock { $0 = [] }
        // Granted: the lease is registered before the attempt ends, and
        // holds every reader back; a second attempt overlapping it ends too.
        holders.startAttempting("w", on: a)
        holders.startAttempting("x", on: a)
        holders.startHolding("w", on: a, validUntil: now + .seconds(1))
        holders.stopAttempting("w", on: a)
        holders.stopAttempting("x", on: a)
        #expect(woken.withLock { $0 }.isEmpty, "a write lease still holds")
        #expect(holders.holdBack(readerOn: a, preferringWriters: false, at: now))
        holders.stopHolding("w", on: a)
        #expect(woken.withLock { $0 } == [a])
        #expect(holders.count == 0)
    }

    @Test func whoHoldsWritersBack() {
        let woken = Mutex<[[UInt8]]>([])
        let holders = LocalWriters { channel in woken.withLock { $0.append(channel) } }
        let a = Array("a".utf8)
        let now = ContinuousClock.now
        holders.startReading("r1", on: a, validUntil: now + .seconds(1))
        holders.startReading("r2", on: a, validUntil: now + .seconds(1))
        holders.startWaiting("w", on: a, arrival: 1)
        #expect(holders.holdBack(writer: "w", on: a, at: now), "a held read lease refuses every writer")
        #expect(!holders.holdBack(readerOn: a, preferringWriters: false, at: now), "readers do not exclude readers")
        #expect(!holders.holdBack(writer: "w", on: a, at: now + .seconds(2)), "past its validity")
        holders.extend("r1", on: a, validUntil: now + .seconds(3))
        #expect(holders.holdBack(writer: "w", on: a, at: now + .seconds(2)))
        holders.stopReading("r1", on: a)
        #expect(woken.withLock { $0 }.isEmpty, "another read lease still holds")
        #expect(holders.holdBack(writer: "w", on: a, at: now))
        holders.stopReading("r2", on: a)
        #expect(woken.withLock { $0 } == [a], "the last read lease left: the writer looks again")
        #expect(!holders.holdBack(writer: "w", on: a, at: now))
        holders.stopReading("r2", on: a)
        #expect(woken.withLock { $0 } == [a], "a lease already gone wakes nobody")
        holders.stopWaiting("w", on: a)
        woken.withLock { $0 = [] }
        // With no writer waiting, a reader leaving wakes nobody.
        holders.startReading("r3", on: a, validUntil: now + .seconds(1))
        holders.stopReading("r3", on: a)
        #expect(woken.withLock { $0 }.isEmpty)
        #expect(holders.count == 0)

        // A downgrade moves a write lease to the read leases in one step.
        holders.startHolding("d", on: a, validUntil: now + .seconds(1))
        holders.startWaiting("w2", on: a, arrival: 1)
        #expect(!holders.moveToReading("unknown", on: a, validUntil: now + .seconds(1)))
        #expect(holders.moveToReading("d", on: a, validUntil: now + .seconds(1)), "no write lease holds any more")
        #expect(!holders.holdBack(readerOn: a, preferringWriters: false, at: now))
        #expect(holders.holdBack(writer: "w2", on: a, at: now), "the downgraded lease still refuses writers")
        holders.stopReading("d", on: a)
        #expect(woken.withLock { $0 } == [a])
        holders.stopWaiting("w2", on: a)
        #expect(holders.count == 0)
    }

    @Test func whoHoldsReadersBack() {
        let woken = Mutex<[[UInt8]]>([])
        let writers = LocalWriters { channel in woken.withLock { $0.append(channel) } }
        let a = Array("a".utf8), b = Array("b".utf8)
        let now = ContinuousClock.now
        writers.startWaiting("w", on: a, arrival: 1_000)
        #expect(writers.holdBack(readerOn: a, preferringWriters: true, at: now))
        #expect(!writers.holdBack(readerOn: a, preferringWriters: false, at: now), "an intent does not refuse readers first")
        #expect(!writers.holdBack(readerOn: b, preferringWriters: true, at: now))
        // Queue order: by arrival, equal arrivals by token bytewise, as the
        // queue's sorted set orders them; only the first asks the server.
        writers.startWaiting("later", on: a, arrival: 1_001)
        writers.startWaiting("v", on: a, arrival: 1_001)
        writers.startWaiting("w2", on: b, arrival: 5)
        #expect(!writers.holdBack(writer: "w", on: a, at: now))
        #expect(writers.holdBack(writer: "later", on: a, at: now))
        #expect(writers.holdBack(writer: "v", on: a, at: now), "\"later\" < \"v\" at the same arrival")
        #expect(!writers.holdBack(writer: "w2", on: b, at: now), "another lock's queue")
        // An intent that lapsed joins anew, behind the others: the next
        // refusal says so, the order follows, and the writers it was ahead
        // of look again. The same place again wakes nobody.
        woken.withLock { $0 = [] }
        writers.startWaiting("w", on: a, arrival: 1_000)
        #expect(woken.withLock { $0 }.isEmpty)
        writers.startWaiting("w", on: a, arrival: 2_000)
        #expect(woken.withLock { $0 } == [a])
        #expect(writers.holdBack(writer: "w", on: a, at: now))
        #expect(!writers.holdBack(writer: "later", on: a, at: now))
        writers.stopWaiting("later", on: a)
        #expect(!writers.holdBack(writer: "v", on: a, at: now), "the one ahead left")
        writers.stopWaiting("v", on: a)
        writers.stopWaiting("w2", on: b)
        woken.withLock { $0 = [] }
        writers.startHolding("t", on: a, validUntil: now + .seconds(1))
        #expect(writers.holdBack(writer: "w", on: a, at: now), "a held write lease refuses every writer")
        writers.stopWaiting("w", on: a)
        #expect(woken.withLock { $0 }.isEmpty, "a writer still holds")
        #expect(writers.holdBack(readerOn: a, preferringWriters: false, at: now))
        #expect(!writers.holdBack(readerOn: a, preferringWriters: false, at: now + .seconds(2)), "past its validity")
        writers.extend("t", on: a, validUntil: now + .seconds(3))
        #expect(writers.holdBack(readerOn: a, preferringWriters: false, at: now + .seconds(2)))
        writers.stopHolding("t", on: a)
        #expect(woken.withLock { $0 } == [a])
        #expect(writers.count == 0)
    }
}
