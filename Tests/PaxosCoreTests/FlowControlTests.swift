@testable import PaxosCore
import Testing

/// Flow control: a leader proposes no fresh instance more than `flowLead` past the delivered prefix of
/// the most advanced learner heard from recently; learners report that prefix to the proposers.
@Suite struct FlowControlTests {
    typealias Proposer = Paxos.Proposer

    static var settings: ProtocolSettings {
        var s = ProposerTests.settings
        s.window = 100
        s.maxBatchBytes = 14  // one submission per instance
        s.flowLead = 3
        s.flowStaleTicks = 10
        s.learnerCount = 2
        return s
    }

    /// The instances of every 2A in `effects`.
    static func proposed(_ effects: Paxos.ProposerEffects) -> [Instance] {
        effects.send.flatMap { out -> [Instance] in
            if case .accept(_, let ps, _) = out.message { return ps.map(\.instance) }
            return []
        }
    }

    static func submit(_ range: ClosedRange<UInt64>) -> Message { .submit(range.map { ProposerTests.sub($0) }) }

    /// The sequence numbers a client's effects (re)submit.
    static func resubmitted(_ e: Paxos.ClientEffects) -> [UInt64] {
        e.send.flatMap { out -> [UInt64] in
            if case .submit(let subs) = out.message { return subs.map(\.id.sequence) }
            return []
        }
    }

    @Test func aLeaderStaysWithinTheLeadOfTheSlowestLearnerThatKeepsUp() {
        var p = ProposerTests.leader(settings: Self.settings)
        _ = p.on(.progress(learner: 1, delivered: 0))
        #expect(Self.proposed(p.on(Self.submit(1...20))) == [1, 2, 3])
        _ = p.on(.progress(learner: 2, delivered: 0))
        // The faster learner alone does not let the leader go on: the slower one bounds it.
        #expect(Self.proposed(p.on(.progress(learner: 2, delivered: 2))).isEmpty)
        #expect(Self.proposed(p.on(.progress(learner: 1, delivered: 4))) == [4, 5])
        // A report older than the one heard does not lower the bound.
        #expect(Self.proposed(p.on(.progress(learner: 1, delivered: 1))).isEmpty)
        // Only configured learners count.
        #expect(Self.proposed(p.on(.progress(learner: 3, delivered: 100))).isEmpty)
        #expect(Self.proposed(p.on(.progress(learner: 0, delivered: 100))).isEmpty)
        // A learner more than 4 × flowLead (12) behind the fastest is catching up: it no longer bounds.
        #expect(Self.proposed(p.on(.progress(learner: 2, delivered: 16))) == [6, 7])  // learner 1 at 4: 12 behind
        #expect(Self.proposed(p.on(.progress(learner: 2, delivered: 17))) == Array(8...20))
    }

    @Test func silentLearnersStopBoundingTheLeader() {
        var p = ProposerTests.leader(settings: Self.settings)
        _ = p.on(.progress(learner: 1, delivered: 0))
        #expect(Self.proposed(p.on(Self.submit(1...6))) == [1, 2, 3])
        // Still fresh: nothing more (retries of 1–3 aside, which come after acceptRetryTicks).
        #expect(Self.proposed(p.tick(now: 11)).isEmpty)
        // flowStaleTicks after the report (heard at tick 1) the learner no longer counts: a dead learner
        // never stalls the cluster.
        #expect(Self.proposed(p.tick(now: 12)) == [4, 5, 6])
    }

    @Test func aRepeatedReportDoesNotKeepAStuckLearnerBinding() {
        var p = ProposerTests.leader(settings: Self.settings)
        _ = p.on(.progress(learner: 1, delivered: 0))
        #expect(Self.proposed(p.on(Self.submit(1...6))) == [1, 2, 3])
        // Stuck on a gap, the learner repeats its prefix on every tick: it still goes stale flowStaleTicks after
        // the leader first heard that prefix, as a silent learner does.
        for t: UInt64 in 2...11 {
            _ = p.tick(now: t)
            _ = p.on(.progress(learner: 1, delivered: 0))
        }
        #expect(Self.proposed(p.tick(now: 12)).filter { $0 > 3 } == [4, 5, 6])
        // A report that advances counts from when it is heard.
        _ = p.on(.progress(learner: 1, delivered: 6))
        #expect(Self.proposed(p.on(Self.submit(7...20))) == [7, 8, 9])
    }

    @Test func withoutReportsOrWithNoLeadNothingIsBounded() {
        var p = ProposerTests.leader(settings: Self.settings)
        #expect(Self.proposed(p.on(Self.submit(1...5))) == [1, 2, 3, 4, 5])
        var s = Self.settings
        s.flowLead = 0
        var q = ProposerTests.leader(settings: s)
        _ = q.on(.progress(learner: 1, delivered: 0))
        #expect(Self.proposed(q.on(Self.submit(1...5))) == [1, 2, 3, 4, 5])
        // A forged report at the top of the instance space lifts the bound, it does not overflow it.
        var r = ProposerTests.leader(settings: Self.settings)
        _ = r.on(.progress(learner: 1, delivered: .max))
        #expect(Self.proposed(r.on(Self.submit(1...2))) == [1, 2])
    }

    @Test func instancesPhaseOneFoundAreReproposedWhateverTheBound() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.on(.progress(learner: 1, delivered: 0))
        let b = ProposerTests.ballot(0, 9)
        let found = (1...6).map { ProposerTests.entry($0, b, .noop) }
        let e = ProposerTests.elect(&p, promises: [1: found, 2: []])
        #expect(Self.proposed(e) == [1, 2, 3, 4, 5, 6])
        // Fresh values wait until a learner is within the lead of instance 7.
        #expect(Self.proposed(p.on(Self.submit(1...2))).isEmpty)
        #expect(Self.proposed(p.on(.progress(learner: 1, delivered: 4))) == [7])
    }

    @Test func aLearnerReportsItsDeliveredPrefixToTheProposers() {
        var s = TrimmingTests.settings
        s.flowLead = 8
        var l = Paxos.Learner(id: 2, settings: s, restoring: LearnerDurableState(nextInstance: 8, nextPosition: 20))
        let first = l.tick(now: 1).send
        #expect(first.contains(Outgoing(.progress(learner: 2, delivered: 7), to: .proposers)))
        // Nothing new delivered: the same report on every tick while it can bind the leader (flowStaleTicks after
        // the learner last delivered, here since it started at 0), so a lost one costs a tick; then nothing.
        for t in 2...s.flowStaleTicks {
            #expect(l.tick(now: t).send.filter { $0.group == .proposers } == [Outgoing(.progress(learner: 2, delivered: 7), to: .proposers)])
        }
        #expect(!l.tick(now: s.flowStaleTicks + 1).send.contains { $0.group == .proposers })
        // Every flowLead/4 instances delivered it reports at once, without waiting for a tick.
        let b = Ballot(round: 1, proposer: 1)
        let one = l.on(.decided([InstanceProposal(instance: 8, proposal: .noop)]))
        #expect(!one.send.contains { $0.group == .proposers })
        let two = l.on(.decided([InstanceProposal(instance: 9, proposal: .noop)]))
        #expect(two.send.contains(Outgoing(.progress(learner: 2, delivered: 9), to: .proposers)))
        // The rest on its next tick, repeated on the ticks after.
        _ = l.onVote(acceptor: 1, ballot: b, proposals: [InstanceProposal(instance: 10, proposal: .noop)])
        _ = l.onVote(acceptor: 2, ballot: b, proposals: [InstanceProposal(instance: 10, proposal: .noop)])
        let t = s.flowStaleTicks + 2
        #expect(l.tick(now: t).send.contains(Outgoing(.progress(learner: 2, delivered: 10), to: .proposers)))
        #expect(l.tick(now: t + 1).send.contains(Outgoing(.progress(learner: 2, delivered: 10), to: .proposers)))
        // Off without flow control.
        s.flowLead = 0
        var m = Paxos.Learner(id: 2, settings: s, restoring: LearnerDurableState(nextInstance: 8, nextPosition: 20))
        #expect(!m.tick(now: 1).send.contains { $0.group == .proposers })
    }

    // MARK: fast retransmission

    @Test func aLeaderResendsAnOvertakenInstanceSoonAndTheRestAfterItsRoundTripEstimate() {
        var s = Self.settings
        s.flowLead = 0
        s.fastRetryTicks = 3
        var p = ProposerTests.leader(settings: s)
        // Before any round trip was timed an instance waits acceptRetryTicks (20).
        #expect(Self.proposed(p.on(Self.submit(1...3))) == [1, 2, 3])
        #expect(Self.proposed(p.tick(now: 20)).isEmpty)
        #expect(Self.proposed(p.tick(now: 21)) == [1, 2, 3])
        // Instance 2 decided (a quorum of 2B votes) in the tick of its re-sending: a re-sent instance times nothing.
        let two = [InstanceProposal(instance: 2, proposal: .batch([ProposerTests.sub(2)]))]
        _ = p.on(.accepted(acceptor: 1, ballot: p.ballot, proposals: two))
        _ = p.on(.accepted(acceptor: 2, ballot: p.ballot, proposals: two))
        #expect(Self.proposed(p.tick(now: 23)).isEmpty)
        #expect(Self.proposed(p.tick(now: 24)) == [1])  // overtaken by 2, re-sent at tick 21
        #expect(Self.proposed(p.tick(now: 40)) == [1])
        #expect(Self.proposed(p.tick(now: 41)) == [3])  // nothing overtook 3, and no round trip was timed
        // Instances sent once and decided within their tick: the estimate comes down to fastRetryTicks.
        #expect(Self.proposed(p.on(Self.submit(4...6))) == [4, 5, 6])
        let five = [InstanceProposal(instance: 5, proposal: .batch([ProposerTests.sub(5)]))]
        _ = p.on(.accepted(acceptor: 1, ballot: p.ballot, proposals: five))
        _ = p.on(.accepted(acceptor: 2, ballot: p.ballot, proposals: five))
        #expect(Self.proposed(p.tick(now: 43)) == [1])
        // 3 and 4 overtaken (by 5); 6 overtaken by nothing, but not decided within the estimate (3 ticks).
        #expect(Self.proposed(p.tick(now: 44)) == [3, 4, 6])
        // That timeout doubled the wait of what nothing overtakes (6 now waits 6 ticks), not of the overtaken.
        #expect(Self.proposed(p.tick(now: 47)) == [1, 3, 4])
        #expect(Self.proposed(p.tick(now: 50)).filter { $0 != 1 && $0 != 3 && $0 != 4 } == [6])
        // Off: only the full delay.
        s.fastRetryTicks = 0
        var q = ProposerTests.leader(settings: s)
        _ = q.on(Self.submit(1...3))
        _ = q.on(.accepted(acceptor: 1, ballot: q.ballot, proposals: two))
        _ = q.on(.accepted(acceptor: 2, ballot: q.ballot, proposals: two))
        #expect(Self.proposed(q.tick(now: 10)).isEmpty)
    }

    @Test func aClientResubmitsAnOvertakenValueSoon() {
        var s = ProtocolSettings()
        s.fastRetryTicks = 3
        s.clientRetryTicks = 50
        var c = Paxos.Client(id: 4, incarnation: 8, settings: s)
        _ = c.submit([[1], [2], [3]])
        _ = c.on(.chosen(ChosenRun.runs(of: [SubmissionID(client: 4, incarnation: 8, sequence: 2)])))
        // Another run's or another client's decisions overtake nothing.
        _ = c.on(.chosen(ChosenRun.runs(of: [SubmissionID(client: 4, incarnation: 9, sequence: 3), SubmissionID(client: 5, incarnation: 8, sequence: 3)])))
        #expect(Self.resubmitted(c.tick(now: 2)).isEmpty)
        // 1 overtaken by 2; 3 overtaken by nothing, but not reported within the round trip 2 took (0 ticks; at
        // least fastRetryTicks).
        #expect(Self.resubmitted(c.tick(now: 3)) == [1, 3])
        #expect(Self.resubmitted(c.tick(now: 5)).isEmpty)
        // 3's timeout doubled the wait of what nothing overtakes (6 ticks); the overtaken 1 goes on every 3.
        #expect(Self.resubmitted(c.tick(now: 6)) == [1])
        #expect(Self.resubmitted(c.tick(now: 9)) == [1, 3])
        // Off: overtaken or not, clientRetryTicks.
        s.fastRetryTicks = 0
        var d = Paxos.Client(id: 4, incarnation: 8, settings: s)
        _ = d.submit([[1], [2], [3]])
        _ = d.on(.chosen(ChosenRun.runs(of: [SubmissionID(client: 4, incarnation: 8, sequence: 2)])))
        #expect(Self.resubmitted(d.tick(now: 49)).isEmpty)
        #expect(Self.resubmitted(d.tick(now: 50)) == [1, 3])
    }

    @Test func aClientTimesOnlyValuesSentOnceAndBacksOff() {
        var s = ProtocolSettings()
        s.fastRetryTicks = 3
        s.clientRetryTicks = 50
        var c = Paxos.Client(id: 4, incarnation: 8, settings: s)
        func chosen(_ seq: UInt64) -> Message { .chosen(ChosenRun.runs(of: [SubmissionID(client: 4, incarnation: 8, sequence: seq)])) }
        // Before a round trip was timed, the last value waits clientRetryTicks.
        _ = c.submit([[1]])
        #expect(Self.resubmitted(c.tick(now: 49)).isEmpty)
        #expect(Self.resubmitted(c.tick(now: 50)) == [1])
        // Reported 10 ticks after its resubmission: that times nothing (it could answer either sending).
        #expect(Self.resubmitted(c.tick(now: 60)).isEmpty)
        _ = c.on(chosen(1))
        // 2, sent once and reported within its tick: the estimate is fastRetryTicks, and 3 is resubmitted after it.
        _ = c.submit([[2], [3]])
        _ = c.on(chosen(2))
        #expect(Self.resubmitted(c.tick(now: 62)).isEmpty)
        #expect(Self.resubmitted(c.tick(now: 63)) == [3])
        // Each timeout doubles the wait until a value sent once is reported again.
        #expect(Self.resubmitted(c.tick(now: 68)).isEmpty)
        #expect(Self.resubmitted(c.tick(now: 69)) == [3])
        #expect(Self.resubmitted(c.tick(now: 80)).isEmpty)
        #expect(Self.resubmitted(c.tick(now: 81)) == [3])
    }
}
