import Testing
@testable import PaxosNode

/// A client says what it waits for instead of staying silent until its timeout.
@Suite struct ClientWatchTests {
    func report(decided: UInt64, waiting: UInt64, received: Int = 0, rejected: Int = 0, foreign: Int = 0) -> StatusReport {
        var counters = NodeCounters()
        counters.received = received
        counters.foreign = foreign
        return StatusReport(running: true, counters: counters, rejected: rejected, sendErrors: 0,
                            progress: NodeProgress(values: decided, pending: waiting))
    }

    func stalled(_ line: ClientWatch.Line?) -> String? {
        if case .stalled(let text) = line { return text }
        return nil
    }

    @Test func noProposerIsNamedAfterThreeQuietSeconds() {
        var watch = ClientWatch(id: 1)
        #expect(watch.observe(report(decided: 0, waiting: 10), at: 100) == nil)
        #expect(watch.observe(report(decided: 0, waiting: 10), at: 102) == nil)
        let line = stalled(watch.observe(report(decided: 0, waiting: 10), at: 103))
        #expect(line?.contains("10 values waiting, none decided for 3 s") == true)
        #expect(line?.contains("no proposer has answered") == true)
        // Not again every second: next after repeatAfter.
        #expect(watch.observe(report(decided: 0, waiting: 10), at: 104) == nil)
        #expect(stalled(watch.observe(report(decided: 0, waiting: 10), at: 113)) != nil)
    }

    @Test func theLikelyCauseFollowsTheCounters() {
        var keyed = ClientWatch(id: 2)
        _ = keyed.observe(report(decided: 0, waiting: 5, rejected: 7), at: 0)
        #expect(stalled(keyed.observe(report(decided: 0, waiting: 5, rejected: 7), at: 3))?.contains("same key") == true)
        var foreign = ClientWatch(id: 3)
        _ = foreign.observe(report(decided: 0, waiting: 5, foreign: 2), at: 0)
        #expect(stalled(foreign.observe(report(decided: 0, waiting: 5, foreign: 2), at: 3))?.contains("acceptor-count") == true)
        var stuck = ClientWatch(id: 4)
        _ = stuck.observe(report(decided: 9, waiting: 5, received: 40), at: 0)
        #expect(stalled(stuck.observe(report(decided: 9, waiting: 5, received: 40), at: 3))?.contains("majority of the acceptors") == true)
    }

    @Test func progressWhileDecidingAndSilenceWhenDone() {
        var watch = ClientWatch(id: 1)
        var lines: [ClientWatch.Line] = []
        for second in 0...12 {
            let decided = UInt64(second * 1000)
            if let line = watch.observe(report(decided: decided, waiting: 500, received: 1), at: Double(second)) { lines.append(line) }
        }
        #expect(lines == [.progress("client 1: 5000 values decided, 500 waiting"), .progress("client 1: 10000 values decided, 500 waiting")])
        // Nothing waiting (all decided, more input not read yet): nothing to say, however long it stays quiet.
        var idle = ClientWatch(id: 1)
        for second in 0...30 { #expect(idle.observe(report(decided: 3, waiting: 0, received: 1), at: Double(second)) == nil) }
    }
}
