@testable import PaxosCore
import Testing

/// The learner: delivery in instance order, each submission once, and the catch-up / probe / recover
/// timers that close gaps.
@Suite struct LearnerTests {
    typealias Learner = Paxos.Learner

    // MARK: helpers

    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.catchUpDelayTicks = 5
        s.catchUpRetryTicks = 10
        s.probeTicks = 100
        s.recoverTicks = 100
        s.catchUpChunk = 512
        s.learnerCount = 0  // progress reports have their own tests below
        return s
    }

    static let b = Ballot(round: 1, proposer: 1)

    static func sub(_ sequence: UInt64, client: UInt32 = 1, incarnation: UInt64 = 10, _ value: String = "7") -> Submission {
        Submission(id: SubmissionID(client: client, incarnation: incarnation, sequence: sequence), value: Array(value.utf8))
    }

    static func ip(_ instance: Instance, _ p: Proposal) -> InstanceProposal { InstanceProposal(instance: instance, proposal: p) }

    static func catchUp(_ learner: UInt32, _ from: Instance, _ to: Instance) -> [Outgoing] {
        [Outgoing(.catchUp(learner: learner, from: from, to: to), to: .acceptors),
         Outgoing(.catchUp(learner: learner, from: from, to: to), to: .learners)]
    }

    /// 2B votes from acceptors 1 and 2 (a quorum of three) for one instance; the effects of both votes.
    static func decide(_ l: inout Learner, _ instance: Instance, _ p: Proposal, ballot: Ballot = b) -> Paxos.LearnerEffects {
        var first = l.onVote(acceptor: 1, ballot: ballot, proposals: [ip(instance, p)])
        #expect(first.persist.isEmpty, "one vote decided instance \(instance)")
        let second = l.onVote(acceptor: 2, ballot: ballot, proposals: [ip(instance, p)])
        first.persist += second.persist
        first.send += second.send
        return first
    }

    static func catchUps(_ e: Paxos.LearnerEffects) -> [Outgoing] {
        e.send.filter { if case .catchUp = $0.message { true } else { false } }
    }

    static func recovers(_ e: Paxos.LearnerEffects) -> [Outgoing] {
        e.send.filter { if case .recover = $0.message { true } else { false } }
    }

    // MARK: delivery

    @Test func deliversInInstanceOrderOnly() {
        var l = Learner(id: 1, settings: Self.settings)
        let (s1, s2, s3) = (Self.sub(1, "a"), Self.sub(2, "b"), Self.sub(3, "c"))
        #expect(Self.decide(&l, 3, .batch([s3])) == Paxos.LearnerEffects())
        #expect(Self.decide(&l, 1, .batch([s1])).persist == [DeliveredInstance(instance: 1, deliveries: [Delivery(position: 1, submission: s1)])])
        let e = Self.decide(&l, 2, .batch([s2]))
        #expect(e.persist == [DeliveredInstance(instance: 2, deliveries: [Delivery(position: 2, submission: s2)]),
                              DeliveredInstance(instance: 3, deliveries: [Delivery(position: 3, submission: s3)])])
        #expect(e.deliveries.map(\.submission) == [s2, s3])
        #expect(e.send.isEmpty)
        #expect(l.nextInstance == 4 && l.nextPosition == 4)
    }

    @Test func aBatchIsDeliveredInItsOrderWithConsecutivePositions() {
        var l = Learner(id: 1, settings: Self.settings)
        let batch = [Self.sub(3, "x"), Self.sub(1, "y"), Self.sub(2, client: 2, "z")]
        let e = Self.decide(&l, 1, .batch(batch))
        #expect(e.deliveries == zip(1..., batch).map { Delivery(position: UInt64($0), submission: $1) })
    }

    @Test func eachSubmissionIDIsDeliveredOnceEvenIfDecidedTwice() {
        var l = Learner(id: 1, settings: Self.settings)
        let (s1, s2) = (Self.sub(1, "a"), Self.sub(2, "b"))
        _ = Self.decide(&l, 1, .batch([s1]))
        #expect(Self.decide(&l, 2, .batch([s1, s2])).persist
                    == [DeliveredInstance(instance: 2, deliveries: [Delivery(position: 2, submission: s2)])])
        // Decided over submissions all delivered already: the instance is recorded, nothing printed.
        #expect(Self.decide(&l, 3, .batch([s2, s1])).persist == [DeliveredInstance(instance: 3, deliveries: [])])
        #expect(l.nextInstance == 4 && l.nextPosition == 3)
    }

    @Test func equalValuesFromDifferentSubmissionsAreAllDelivered() {
        var l = Learner(id: 1, settings: Self.settings)
        let same = [Self.sub(1, "7"), Self.sub(2, "7"), Self.sub(1, client: 2, "7"), Self.sub(1, incarnation: 11, "7")]
        let e = Self.decide(&l, 1, .batch(same))
        #expect(e.deliveries.map(\.submission) == same)
        #expect(e.deliveries.map(\.position) == [1, 2, 3, 4])
    }

    @Test func aNoopIsSkippedButAdvancesTheInstance() {
        var l = Learner(id: 1, settings: Self.settings)
        #expect(Self.decide(&l, 1, .noop).persist == [DeliveredInstance(instance: 1, deliveries: [])])
        #expect(l.nextInstance == 2 && l.nextPosition == 1)
        let s = Self.sub(1)
        #expect(Self.decide(&l, 2, .batch([s])).persist == [DeliveredInstance(instance: 2, deliveries: [Delivery(position: 1, submission: s)])])
    }

    @Test func votesThatAreNoQuorumDecideNothing() {
        var l = Learner(id: 1, settings: Self.settings)
        let p = Proposal.batch([Self.sub(1)])
        // The same acceptor twice, strangers, and a second vote in another ballot.
        #expect(l.onVote(acceptor: 1, ballot: Self.b, proposals: [Self.ip(1, p)]).persist.isEmpty)
        #expect(l.onVote(acceptor: 1, ballot: Self.b, proposals: [Self.ip(1, p)]).persist.isEmpty)
        for stranger: UInt32 in [0, 4, 99] {
            #expect(l.onVote(acceptor: stranger, ballot: Self.b, proposals: [Self.ip(1, p)]).persist.isEmpty)
            #expect(l.on(.replay(acceptor: stranger, entries: [AcceptedEntry(instance: 1, ballot: Self.b, proposal: p)])).persist.isEmpty)
        }
        #expect(l.onVote(acceptor: 2, ballot: Ballot(round: 2, proposer: 2), proposals: [Self.ip(1, p)]).persist.isEmpty)
        #expect(l.nextInstance == 1)
        #expect(l.onVote(acceptor: 3, ballot: Self.b, proposals: [Self.ip(1, p)]).persist.count == 1)
    }

    @Test func replayedVotesFromAQuorumDecide() {
        var l = Learner(id: 1, settings: Self.settings)
        let p = Proposal.batch([Self.sub(1)])
        let entries = [AcceptedEntry(instance: 1, ballot: Self.b, proposal: p), AcceptedEntry(instance: 2, ballot: Self.b, proposal: .noop)]
        #expect(l.on(.replay(acceptor: 3, entries: entries)).persist.isEmpty)
        let e = l.on(.replay(acceptor: 1, entries: entries))
        #expect(e.persist == [DeliveredInstance(instance: 1, deliveries: [Delivery(position: 1, submission: Self.sub(1))]),
                              DeliveredInstance(instance: 2, deliveries: [])])
        // A replay mixing with a live 2B of the same ballot counts too.
        _ = l.on(.replay(acceptor: 2, entries: [AcceptedEntry(instance: 3, ballot: Self.b, proposal: .noop)]))
        #expect(l.onVote(acceptor: 3, ballot: Self.b, proposals: [Self.ip(3, .noop)]).persist.count == 1)
    }

    @Test func decidedInstancesFromAnotherLearnerAreDeliveredDirectly() {
        var l = Learner(id: 1, settings: Self.settings)
        let e = l.on(.decided([Self.ip(2, .batch([Self.sub(2)])), Self.ip(1, .batch([Self.sub(1)])), Self.ip(0, .noop)]))
        #expect(e.deliveries.map(\.submission) == [Self.sub(1), Self.sub(2)])
        // Later votes or decisions for delivered instances change nothing.
        #expect(Self.decide(&l, 1, .noop).persist.isEmpty)
        #expect(l.on(.decided([Self.ip(2, .noop)])) == Paxos.LearnerEffects())
    }

    @Test func aRestoredLearnerSkipsWhatItDeliveredBefore() {
        let (a, b, c, d) = (Self.sub(1), Self.sub(2), Self.sub(3), Self.sub(4))
        var l = Learner(id: 1, settings: Self.settings,
                        restoring: LearnerDurableState(nextInstance: 3, nextPosition: 5, delivered: [a.id, c.id]))
        #expect(l.nextInstance == 3 && l.nextPosition == 5)
        // Instances before the restored one are done with: their votes change nothing at all.
        let before = l
        #expect(Self.decide(&l, 2, .batch([b])).persist.isEmpty)
        _ = l.onVote(acceptor: 3, ballot: Self.b, proposals: [Self.ip(2, .batch([b]))])
        _ = l.on(.replay(acceptor: 3, entries: [AcceptedEntry(instance: 1, ballot: Self.b, proposal: .noop)]))
        #expect(l == before)
        #expect(Self.decide(&l, 3, .batch([a, b, c, d])).persist
                    == [DeliveredInstance(instance: 3, deliveries: [Delivery(position: 5, submission: b),
                                                                     Delivery(position: 6, submission: d)])])
    }

    // MARK: digests in 2Bs

    /// A quorum of 2Bs without the 2A: the learner knows the instance is decided but not with what, asks
    /// for that instance alone, and delivers the value a catch-up answer brings (its digest matches).
    @Test func aDecisionWithoutItsValueIsFilledByACatchUpAnswer() {
        var l = Learner(id: 4, settings: Self.settings)
        let v = Proposal.batch([Self.sub(1, "x")])
        _ = Self.decide(&l, 2, .noop)  // instance 2 with its 2A
        for a: UInt32 in 1...2 { #expect(l.on(.accepted(acceptor: a, ballot: Self.b, proposals: [Self.ip(1, v)])).persist.isEmpty) }
        for t: UInt64 in 1...5 { _ = l.tick(now: t) }
        #expect(l.tick(now: 6).send == Self.catchUp(4, 1, 2))
        let e = l.on(.replay(acceptor: 3, entries: [AcceptedEntry(instance: 1, ballot: Self.b, proposal: v)]))
        #expect(e.persist.map(\.instance) == [1, 2])
        #expect(e.deliveries.map(\.submission) == [Self.sub(1, "x")])
    }

    /// A value is delivered only if its own digest is the one a quorum voted for: a 2A with another value
    /// under the same instance and ballot (a forged or buggy proposer) is never paired with the votes.
    @Test func aValueWhoseDigestIsNotTheVotedOneIsNeverDelivered() {
        var l = Learner(id: 1, settings: Self.settings)
        let voted = Proposal.batch([Self.sub(1, "voted")])
        let other = Proposal.batch([Self.sub(1, "other")])
        #expect(l.on(.accept(ballot: Self.b, proposals: [Self.ip(1, other)])).persist.isEmpty)
        for a: UInt32 in 1...3 { #expect(l.on(.accepted(acceptor: a, ballot: Self.b, proposals: [Self.ip(1, voted)])).persist.isEmpty) }
        #expect(l.on(.accept(ballot: Self.b, proposals: [Self.ip(1, other)])).persist.isEmpty)
        #expect(l.nextInstance == 1)
        // The voted value, from any source, completes it.
        #expect(l.on(.accept(ballot: Self.b, proposals: [Self.ip(1, voted)])).deliveries.map(\.submission) == [Self.sub(1, "voted")])
    }

    // MARK: timers

    @Test func aGapIsAskedForAfterCatchUpDelayTicksAndAgainAfterCatchUpRetryTicks() {
        var l = Learner(id: 4, settings: Self.settings)
        _ = Self.decide(&l, 3, .noop)
        for t: UInt64 in 1...5 { #expect(l.tick(now: t) == Paxos.LearnerEffects(), "tick \(t)") }  // the gap is noticed at 1
        // Instance 3 is decided here: only the hole before it is asked for.
        #expect(l.tick(now: 6).send == Self.catchUp(4, 1, 3))
        for t: UInt64 in 7...15 { #expect(l.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(l.tick(now: 16).send == Self.catchUp(4, 1, 3))
    }

    @Test func usingUpACatchUpAnswerAsksForTheNextChunkAtOnce() {
        var s = Self.settings
        s.catchUpChunk = 2
        var l = Learner(id: 4, settings: s)
        _ = Self.decide(&l, 5, .noop)
        _ = l.tick(now: 1)
        #expect(l.tick(now: 6).send == Self.catchUp(4, 1, 3))
        let first = l.on(.decided([Self.ip(1, .noop), Self.ip(2, .noop)]))
        #expect(first.persist.map(\.instance) == [1, 2])
        #expect(first.send == Self.catchUp(4, 3, 5))
        let second = l.on(.decided([Self.ip(3, .noop), Self.ip(4, .noop)]))
        #expect(second.persist.map(\.instance) == [3, 4, 5])
        // The answer filled its whole chunk, so more may exist even though nothing more was heard of.
        #expect(second.send == Self.catchUp(4, 6, 8))
        let third = l.on(.decided([Self.ip(6, .noop)]))
        #expect(third.persist.map(\.instance) == [6])
        #expect(third.send.isEmpty)  // a partial answer: that was the end
    }

    /// After a gap was caught up, a learner that keeps up from 2As again does not go on asking for the instances
    /// in flight each time it passes the end of its last request: once an answer brought nothing undecided,
    /// the chain of immediate requests ends (the gap rule still asks for real gaps).
    @Test func aLearnerKeepingUpFrom2AsStopsAskingForInstancesInFlight() {
        var s = Self.settings
        s.catchUpChunk = 4
        var l = Learner(id: 4, settings: s)
        let p = { (i: UInt64) in Proposal.batch([Self.sub(i)]) }
        _ = Self.decide(&l, 2, p(2))
        _ = l.tick(now: 1)
        #expect(l.tick(now: 6).send == Self.catchUp(4, 1, 2))
        #expect(l.on(.decided([Self.ip(1, p(1))])).persist.map(\.instance) == [1, 2])  // a useful answer
        _ = l.onVote(acceptor: 1, ballot: Self.b, proposals: [Self.ip(6, p(6))])    // heard of 6
        _ = Self.decide(&l, 3, p(3))
        // Past the request's end (1 + 4), still catching up as far as it knows: one more request.
        #expect(Self.decide(&l, 4, p(4)).send == Self.catchUp(4, 5, 7))
        _ = Self.decide(&l, 5, p(5))
        _ = Self.decide(&l, 6, p(6))
        // The answer comes after the 2Bs decided all of it: nothing useful.
        let late = [5, 6].map { AcceptedEntry(instance: $0, ballot: Self.b, proposal: p($0)) }
        #expect(Self.catchUps(l.on(.replay(acceptor: 3, entries: late))).isEmpty)
        _ = l.onVote(acceptor: 1, ballot: Self.b, proposals: [Self.ip(9, p(9))])
        _ = Self.decide(&l, 7, p(7))
        #expect(Self.catchUps(Self.decide(&l, 8, p(8))).isEmpty, "asked for instances in flight again")
        #expect(l.nextInstance == 9)
    }

    /// Holes of big values: a request asks for as many instances as `catchUpBytes` holds of the largest value
    /// heard (each answerer caps each range, so 8 ranges of 1 MiB values were 8 MiB from every answerer), and
    /// asks for the next one as soon as that one is delivered.
    @Test func holesOfBigValuesAreAskedForAsManyAsCatchUpBytesHolds() {
        var s = Self.settings
        s.catchUpBytes = 1_000
        var l = Learner(id: 4, settings: s)
        let big = { (i: UInt64) in Proposal.batch([Self.sub(i, String(repeating: "x", count: 600))]) }
        _ = Self.decide(&l, 5, big(5))
        _ = l.tick(now: 1)
        #expect(l.tick(now: 6).send == Self.catchUp(4, 1, 2))
        let first = l.on(.decided([Self.ip(1, big(1))]))
        #expect(first.persist.map(\.instance) == [1])
        #expect(first.send == Self.catchUp(4, 2, 3))
        // Small values: every hole at once, as before.
        var small = Learner(id: 4, settings: s)
        _ = Self.decide(&small, 5, .batch([Self.sub(5)]))
        _ = small.tick(now: 1)
        #expect(small.tick(now: 6).send == Self.catchUp(4, 1, 5))
    }

    @Test func anIdleLearnerProbesEveryProbeTicks() {
        var l = Learner(id: 2, settings: Self.settings)
        // A learner that just started asks at once: it may have missed everything.
        #expect(l.tick(now: 1).send == Self.catchUp(2, 1, 513))
        for t: UInt64 in 2...100 { #expect(l.tick(now: t) == Paxos.LearnerEffects(), "tick \(t)") }
        #expect(l.tick(now: 101).send == Self.catchUp(2, 1, 513))
        for t: UInt64 in 102...200 { #expect(l.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(l.tick(now: 201).send == Self.catchUp(2, 1, 513))
    }

    @Test func hearingTwoBsPostponesTheProbe() {
        var l = Learner(id: 2, settings: Self.settings)
        _ = l.tick(now: 50)
        _ = Self.decide(&l, 1, .noop)
        // (Its delivered prefix goes to the proposers on the next tick: flow control, not a probe.)
        for t: UInt64 in 51...149 { #expect(l.tick(now: t).send.filter { $0.group != .proposers }.isEmpty, "tick \(t)") }
        #expect(l.tick(now: 150).send == Self.catchUp(2, 2, 514))
    }

    @Test func aGapThatDoesNotCloseMakesTheLearnerAskProposersToRecover() {
        var l = Learner(id: 3, settings: Self.settings)
        _ = Self.decide(&l, 3, .noop)
        _ = l.tick(now: 0)  // the gap is noticed at tick 0
        var recoverTicks: [UInt64] = []
        for t: UInt64 in 1...250 {
            let e = l.tick(now: t)
            if !Self.recovers(e).isEmpty {
                recoverTicks.append(t)
                #expect(Self.recovers(e) == [Outgoing(.recover(learner: 3, from: 1), to: .proposers)])
            }
        }
        #expect(recoverTicks == [100, 200])
        // Closing the gap stops it.
        _ = Self.decide(&l, 1, .noop)
        _ = Self.decide(&l, 2, .noop)
        #expect(l.nextInstance == 4)
        for t: UInt64 in 251...600 { #expect(Self.recovers(l.tick(now: t)).isEmpty) }
    }

    /// BUG: `stuck` is measured from the last delivery, not from when the gap opened. A learner that was
    /// idle for `recoverTicks` (no client traffic) sends `recover` on the very first tick at which a gap is
    /// visible — even a gap that is just one 2B vote ahead of its quorum — and the leader answers every
    /// recover with a fresh election (new ballot, phase 1, in-flight instances re-proposed).
    @Test func anIdleLearnerDoesNotAskForRecoveryTheMomentAGapOpens() {
        var l = Learner(id: 1, settings: Self.settings)
        _ = l.tick(now: 10)
        for i: Instance in 1...5 { _ = Self.decide(&l, i, .noop) }  // delivered at tick 10
        for t: UInt64 in 11...500 { #expect(Self.recovers(l.tick(now: t)).isEmpty) }
        // Traffic resumes: the first 2B of instance 6 arrives; the second is a moment behind.
        let p = Proposal.batch([Self.sub(1)])
        _ = l.onVote(acceptor: 1, ballot: Self.b, proposals: [Self.ip(6, p)])
        let e = l.tick(now: 501)
        #expect(Self.recovers(e).isEmpty)
        // The instance was never in trouble: the next vote decides it.
        #expect(l.onVote(acceptor: 2, ballot: Self.b, proposals: [Self.ip(6, p)]).persist.count == 1)
    }

    // MARK: serving other learners

    @Test func anotherLearnersCatchUpIsServedFromWhatWasDelivered() {
        var l = Learner(id: 1, settings: Self.settings)
        let decided = [Self.ip(1, .batch([Self.sub(1)])), Self.ip(2, .noop), Self.ip(3, .batch([Self.sub(2), Self.sub(3)]))]
        for d in decided { _ = Self.decide(&l, d.instance, d.proposal) }
        let e = l.on(.catchUp(learner: 2, from: 1, to: 10))
        #expect(e.send == [Outgoing(.decided(decided), to: .learners)])
        #expect(e.persist.isEmpty)
        #expect(l.on(.catchUp(learner: 2, from: 2, to: 3)).send == [Outgoing(.decided([decided[1]]), to: .learners)])
        // Nothing to offer beyond what it delivered, for empty ranges, or for instance 0.
        #expect(l.on(.catchUp(learner: 2, from: 4, to: 10)).send.isEmpty)
        #expect(l.on(.catchUp(learner: 2, from: 3, to: 3)).send.isEmpty)
        #expect(l.on(.catchUp(learner: 2, from: 0, to: 3)).send.isEmpty)
    }

    @Test func aLearnerIgnoresItsOwnCatchUp() {
        var l = Learner(id: 1, settings: Self.settings)
        _ = Self.decide(&l, 1, .noop)
        #expect(l.on(.catchUp(learner: 1, from: 1, to: 10)) == Paxos.LearnerEffects())
    }

    @Test func servingIsLimitedByTheCacheAndTheChunk() {
        var s = Self.settings
        s.learnerServeCache = 2
        s.catchUpChunk = 3
        var l = Learner(id: 1, settings: s)
        for i: Instance in 1...6 { _ = Self.decide(&l, i, .noop) }
        // Instances 1–4 left the cache; the request is cut to [4, 7) by the chunk.
        #expect(l.on(.catchUp(learner: 2, from: 1, to: 100)).send.isEmpty)
        #expect(l.on(.catchUp(learner: 2, from: 4, to: 100)).send
                    == [Outgoing(.decided([Self.ip(5, .noop), Self.ip(6, .noop)]), to: .learners)])
    }
}
