@testable import PaxosCore
import Testing

/// A burst's sends coalesced (`Paxos.coalesced`): the same messages in fewer datagrams, each within the
/// datagram budget, everything that does not merge left in its order.
@Suite struct CoalesceTests {
    static let b1 = Ballot(round: 1, proposer: 1)
    static let b2 = Ballot(round: 2, proposer: 1)
    static var on: ProtocolSettings {
        var s = ProtocolSettings()
        s.coalesceSends = true
        return s
    }

    static func value(_ sequence: UInt64) -> Proposal {
        .batch([Submission(id: SubmissionID(client: 1, incarnation: 9, sequence: sequence), value: Array("v\(sequence)".utf8))])
    }

    static func votes(_ instances: ClosedRange<Instance>) -> [Vote] {
        instances.map { Vote(instance: $0, digest: Wire.digest(of: value($0))) }
    }

    static func twoB(_ b: Ballot, _ instances: ClosedRange<Instance>, acceptor: UInt32 = 1, to group: Group = .learners) -> Outgoing {
        Outgoing(.accepted(acceptor: acceptor, ballot: b, votes: votes(instances)), to: group)
    }

    @Test func anAcceptorsBurstOfTwoAsLeavesAsOneTwoBWithEveryVote() {
        var acceptor = Paxos.Acceptor(id: 2, settings: ProtocolSettings(), blankStart: .vote)
        var sends: [Outgoing] = []
        for i in Instance(1)...5 {
            sends += acceptor.on(.accept(ballot: Self.b1, proposals: [InstanceProposal(instance: i, proposal: Self.value(i))])).send
        }
        #expect(sends.count == 5)
        let all = (Instance(1)...5).map { InstanceProposal(instance: $0, proposal: Self.value($0)) }
        #expect(Paxos.coalesced(sends, settings: Self.on)
                == [Outgoing(.accepted(acceptor: 2, ballot: Self.b1, proposals: all), to: .learners)])
    }

    @Test func mergedListsAreSplitToTheDatagramBudgetInTheirOrder() {
        var settings = Self.on
        settings.maxDatagramBytes = 160
        let sends = (Instance(1)...60).map { Self.twoB(Self.b1, $0...$0) }
        let merged = Paxos.coalesced(sends, settings: settings)
        #expect(merged.count > 1 && merged.count < 10)
        var carried: [Vote] = []
        for out in merged {
            guard case .accepted(1, Self.b1, let votes) = out.message, out.group == .learners else {
                Issue.record("not a 2B of acceptor 1 in 1.1: \(out.message.summary)")
                continue
            }
            #expect(Wire.encode(out.message).count <= settings.maxDatagramBytes)
            carried += votes
        }
        #expect(carried == Self.votes(1...60))
    }

    @Test func differentBallotsSendersGroupsAndKindsStayApartInOrder() {
        let nack = Outgoing(.nack(acceptor: 1, promised: Self.b2), to: .proposers)
        let promise = Outgoing(.promise(Promise(acceptor: 1, ballot: Self.b2, from: 1, chunk: 0, chunkCount: 1, accepted: [])),
                               to: .proposers)
        let sends = [Self.twoB(Self.b1, 1...1), promise, Self.twoB(Self.b2, 2...2), nack, Self.twoB(Self.b1, 3...4),
                     Self.twoB(Self.b1, 5...5, to: .proposers), Self.twoB(Self.b1, 6...6, acceptor: 3), nack]
        #expect(Paxos.coalesced(sends, settings: Self.on) == [
            Outgoing(.accepted(acceptor: 1, ballot: Self.b1, votes: Self.votes(1...1) + Self.votes(3...4)), to: .learners),
            promise, Self.twoB(Self.b2, 2...2), nack, Self.twoB(Self.b1, 5...5, to: .proposers), Self.twoB(Self.b1, 6...6, acceptor: 3), nack,
        ])
    }

    @Test func aLeadersTwoAsChosenAndHeartbeatsOfABurstMerge() {
        let p = (Instance(1)...3).map { InstanceProposal(instance: $0, proposal: Self.value($0)) }
        let ids = (UInt64(1)...3).map { SubmissionID(client: 1, incarnation: 9, sequence: $0) }
        let sends = [
            Outgoing(.accept(ballot: Self.b1, proposals: [p[0]], decidedThrough: 3), to: .acceptors),
            Outgoing(.chosen(ChosenRun.runs(of: [ids[0]])), to: .clients),
            Outgoing(.heartbeat(ballot: Self.b1, firstUndecided: 4), to: .proposers),
            Outgoing(.accept(ballot: Self.b1, proposals: [p[1], p[2]], decidedThrough: 5), to: .acceptors),
            Outgoing(.chosen(ChosenRun.runs(of: [ids[1], ids[2]])), to: .clients),
            Outgoing(.heartbeat(ballot: Self.b1, firstUndecided: 6), to: .proposers),
        ]
        #expect(Paxos.coalesced(sends, settings: Self.on) == [
            Outgoing(.accept(ballot: Self.b1, proposals: p, decidedThrough: 5), to: .acceptors),
            Outgoing(.chosen(ChosenRun.runs(of: ids)), to: .clients),
            Outgoing(.heartbeat(ballot: Self.b1, firstUndecided: 6), to: .proposers),
        ])
    }

    @Test func progressReportsKeepTheHighestPerLearnerAndGroup() {
        let sends = [Outgoing(.progress(learner: 1, delivered: 4), to: .proposers),
                     Outgoing(.progress(learner: 1, delivered: 9), to: .acceptors),
                     Outgoing(.progress(learner: 1, delivered: 7), to: .proposers),
                     Outgoing(.progress(learner: 2, delivered: 1), to: .proposers),
                     Outgoing(.progress(learner: 1, delivered: 6), to: .proposers)]
        #expect(Paxos.coalesced(sends, settings: Self.on) == [
            Outgoing(.progress(learner: 1, delivered: 7), to: .proposers),
            Outgoing(.progress(learner: 1, delivered: 9), to: .acceptors),
            Outgoing(.progress(learner: 2, delivered: 1), to: .proposers),
        ])
    }

    @Test func submissionsMergeNoFurtherThanOneBatchADatagram() {
        var settings = Self.on
        settings.maxBatchBytes = 40
        let subs = (UInt64(1)...12).map { Submission(id: SubmissionID(client: 1, incarnation: 9, sequence: $0), value: Array("value".utf8)) }
        let sends = subs.map { Outgoing(.submit([$0]), to: .proposers) }
        let merged = Paxos.coalesced(sends, settings: settings)
        var carried: [Submission] = []
        for out in merged {
            guard case .submit(let s) = out.message else { continue }
            #expect(s.reduce(0) { $0 + Wire.size(of: $1) } <= settings.maxBatchBytes)
            carried += s
        }
        #expect(carried == subs)
        #expect(merged.count < sends.count)
    }

    @Test func turnedOffTheSendsLeaveAsTheyCame() {
        var settings = Self.on
        settings.coalesceSends = false
        let sends = (Instance(1)...4).map { Self.twoB(Self.b1, $0...$0) }
        #expect(Paxos.coalesced(sends, settings: settings) == sends)
    }
}
