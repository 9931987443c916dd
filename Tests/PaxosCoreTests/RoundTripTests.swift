@testable import PaxosCore
import Testing

/// The leader's retry timeout: RFC 6298's estimator, in ticks, within a floor and a ceiling, with backoff.
@Suite struct RoundTripTests {
    @Test func withoutASampleTheCeilingApplies() {
        #expect(RoundTrip().timeout(floor: 3, ceiling: 20) == 20)
    }

    @Test func theTimeoutIsTheSmoothedRoundTripPlusFourDeviations() {
        var r = RoundTrip()
        r.sample(4)  // the first sample: smoothed 4, deviation half of it
        #expect(r.timeout(floor: 1, ceiling: 100) == 4 + 4 * 2)
        // Steady round trips: the deviation decays, and the timeout comes down to just above them.
        for _ in 0..<40 { r.sample(4) }
        #expect((5...6).contains(r.timeout(floor: 1, ceiling: 100)))
        // A slow one raises it at once (the deviation jumps), and steady ones bring it down again.
        r.sample(20)
        let raised = r.timeout(floor: 1, ceiling: 100)
        #expect(raised >= 20)
        for _ in 0..<40 { r.sample(4) }
        #expect(r.timeout(floor: 1, ceiling: 100) < raised)
        #expect(r.timeout(floor: 1, ceiling: 100) <= 8)
    }

    @Test func theFloorCoversTheTicksCoarsenessAndTheCeilingBoundsIt() {
        var r = RoundTrip()
        for _ in 0..<10 { r.sample(0) }  // decided within the tick they were sent in
        #expect(r.timeout(floor: 3, ceiling: 20) == 3)
        var slow = RoundTrip()
        slow.sample(1_000)
        #expect(slow.timeout(floor: 3, ceiling: 20) == 20)
        // Samples as large as a UInt64 allows do not overflow.
        slow.sample(.max)
        slow.timedOut()
        #expect(slow.timeout(floor: 3, ceiling: 20) == 20)
    }

    @Test func eachTimeoutDoublesTheWaitUntilTheNextSample() {
        var r = RoundTrip()
        for _ in 0..<10 { r.sample(0) }
        r.timedOut()
        #expect(r.timeout(floor: 3, ceiling: 20) == 6)
        r.timedOut()
        #expect(r.timeout(floor: 3, ceiling: 20) == 12)
        r.timedOut()
        #expect(r.timeout(floor: 3, ceiling: 20) == 20)
        for _ in 0..<100 { r.timedOut() }
        #expect(r.timeout(floor: 3, ceiling: 20) == 20)
        r.sample(0)
        #expect(r.timeout(floor: 3, ceiling: 20) == 3)
    }
}
