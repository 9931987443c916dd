@testable import PaxosCore
import Testing

/// 2B vote counting: a quorum of distinct acceptors in one ballot decides, nothing else does.
@Suite struct VoteTallyTests {
    static let b1 = Ballot(round: 1, proposer: 1)
    static let b2 = Ballot(round: 2, proposer: 2)
    static let a = Proposal.batch([Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: 1), value: Array("7".utf8))])
    static let b = Proposal.batch([Submission(id: SubmissionID(client: 2, incarnation: 1, sequence: 1), value: Array("7".utf8))])

    @Test func aQuorumOfDistinctAcceptorsDecides() {
        var tally = VoteTally(quorum: 2)
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.pendingCount == 1)
        #expect(tally.record(acceptor: 3, ballot: Self.b1, instance: 1, proposal: Self.a) == .decided(Self.a))
        // A decided instance's votes are dropped.
        #expect(tally.pendingCount == 0)
    }

    @Test func aQuorumOfThreeNeedsThreeAcceptors() {
        var tally = VoteTally(quorum: 3)  // five acceptors
        #expect(tally.record(acceptor: 5, ballot: Self.b1, instance: 9, proposal: .noop) == .pending)
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 9, proposal: .noop) == .pending)
        #expect(tally.record(acceptor: 4, ballot: Self.b1, instance: 9, proposal: .noop) == .decided(.noop))
    }

    @Test func theSameAcceptorVotingAgainNeverDecidesAlone() {
        var tally = VoteTally(quorum: 2)
        for _ in 0..<10 {
            #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        }
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .decided(Self.a))
    }

    @Test func votesInDifferentBallotsDoNotAddUp() {
        var tally = VoteTally(quorum: 2)
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 2, ballot: Self.b2, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 3, ballot: Ballot(round: 1, proposer: 2), instance: 1, proposal: Self.a) == .pending)
        // A second vote in b2 completes that ballot's quorum.
        #expect(tally.record(acceptor: 3, ballot: Self.b2, instance: 1, proposal: Self.a) == .decided(Self.a))
    }

    @Test func votesForDifferentInstancesDoNotAddUp() {
        var tally = VoteTally(quorum: 2)
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 2, proposal: Self.a) == .pending)
        #expect(tally.pendingCount == 2)
    }

    @Test func aConflictingValueInTheSameBallotIsReportedAndNotCounted() {
        var tally = VoteTally(quorum: 2)
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 1, proposal: Self.b) == .conflicting)
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 1, proposal: .noop) == .conflicting)
        // The first value of the ballot still decides with a second honest vote.
        #expect(tally.record(acceptor: 3, ballot: Self.b1, instance: 1, proposal: Self.a) == .decided(Self.a))
    }

    @Test func acceptorIDsOutsideOneToSixtyFourAreIgnored() {
        var tally = VoteTally(quorum: 1)
        #expect(tally.record(acceptor: 0, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 65, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: .max, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.pendingCount == 0)
        #expect(tally.record(acceptor: 64, ballot: Self.b1, instance: 1, proposal: Self.a) == .decided(Self.a))
    }

    @Test func acceptorSixtyFourAndOneAreDistinctBits() {
        var tally = VoteTally(quorum: 2)
        #expect(tally.record(acceptor: 64, ballot: Self.b1, instance: 1, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 1, ballot: Self.b1, instance: 1, proposal: Self.a) == .decided(Self.a))
    }

    @Test func forgettingDropsVotes() {
        var tally = VoteTally(quorum: 2)
        for i: Instance in 1...5 {
            _ = tally.record(acceptor: 1, ballot: Self.b1, instance: i, proposal: Self.a)
        }
        tally.forget(3)
        #expect(tally.pendingCount == 4)
        tally.forget(below: 4)
        #expect(tally.pendingCount == 2)
        // The forgotten vote no longer counts.
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 2, proposal: Self.a) == .pending)
        #expect(tally.record(acceptor: 2, ballot: Self.b1, instance: 5, proposal: Self.a) == .decided(Self.a))
    }

    @Test func decidedInstancesTrackTheFirstUndecidedAndASparseSetAbove() {
        var d = DecidedInstances()
        #expect(d.firstUndecided == 1 && d.highest == 0)
        let inserted = [d.insert(3), d.insert(2), d.insert(3)]
        #expect(inserted == [true, true, false])
        #expect(d.firstUndecided == 1 && d.highest == 3)
        #expect(!d.contains(1) && d.contains(2) && d.contains(3))
        let closesTheGap = d.insert(1)
        #expect(closesTheGap)
        #expect(d.firstUndecided == 4 && d.above.isEmpty)
        let zero = d.insert(0)  // below the first undecided: known already
        #expect(!zero)
        let restored = DecidedInstances(firstUndecided: 0)
        #expect(restored.firstUndecided == 1 && restored.highest == 0)
    }
}

/// The tally counts digests; these tests speak of the values the digests are of.
extension VoteTally {
    mutating func record(acceptor: UInt32, ballot: Ballot, instance: Instance, proposal: Proposal) -> Outcome {
        record(acceptor: acceptor, ballot: ballot, instance: instance, digest: Wire.digest(of: proposal))
    }
}

extension VoteTally.Outcome {
    static func decided(_ p: Proposal) -> Self { .decided(digest: Wire.digest(of: p)) }
}

extension Paxos.Learner {
    /// An acceptor's 2B as a learner hears it in a cluster: the leader's 2A with the values first (on the
    /// acceptors' group), then the 2B naming them by digest. The effects of both, in that order.
    mutating func onVote(acceptor: UInt32, ballot: Ballot, proposals: [InstanceProposal]) -> Paxos.LearnerEffects {
        var effects = on(.accept(ballot: ballot, proposals: proposals))
        let vote = on(.accepted(acceptor: acceptor, ballot: ballot, proposals: proposals))
        effects.persist += vote.persist
        effects.send += vote.send
        effects.cannotCatchUp = vote.cannotCatchUp ?? effects.cannotCatchUp
        return effects
    }
}
