// Each test pins one robustness problem the fuzz and spray work found (Fuzz/known-bugs/). The ones marked
// FIXED failed before the safety work of 2026-12-01 (maxInstanceLead, clamped ballot jumps, trimming no
// further than a leader's decided prefix).
@testable import PaxosCore
import Testing

@Suite struct HostileMessageTests {
    static let settings = ProtocolSettings()
    static let absurdBallot = Ballot(round: Ballot.maxRound, proposer: 999)

    /// A proposer elected at once (proposer 1 has no stagger), with promises from acceptors 1 and 2.
    static func leader(promising entries: [AcceptedEntry] = []) -> Paxos.Proposer {
        var p = Paxos.Proposer(id: 1, settings: settings, seed: 1)
        var t: UInt64 = 0
        while p.mode == .follower { t += 1; _ = p.tick(now: t) }
        for a: UInt32 in 1...2 {
            _ = p.on(.promise(Promise(acceptor: a, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1,
                                      accepted: a == 1 ? entries : [])))
        }
        return p
    }

    // FIXED: a heartbeat (or nack, or 2B) carrying round 2^62 = Ballot.maxRound, still "valid", becomes
    // every proposer's knownBallot; its next election then uses round 2^62+1, which acceptors ignore
    // without a nack, and the proposer persists that round: a permanent stall, even across restarts.
    @Test func anAbsurdHeardBallotNeverMakesTheNextBallotInvalid() {
        var p = Self.leader()
        _ = p.on(.heartbeat(ballot: Self.absurdBallot, firstUndecided: .max))
        _ = p.on(.recover(learner: 999, from: .max))  // any election trigger
        #expect(p.ballot.isValid, "next ballot \(p.ballot) is beyond Ballot.maxRound")
    }

    // FIXED: acceptors promise a ballot from a proposer nobody runs, at the highest valid round, which no
    // real proposer can ever exceed.
    @Test func acceptorsDoNotPromiseTheHighestPossibleRound() {
        var a = Paxos.Acceptor(id: 1, settings: Self.settings, blankStart: .vote)
        _ = a.on(.prepare(ballot: Self.absurdBallot, from: 1))
        #expect(a.promised != Self.absurdBallot)
    }

    // FIXED: an acceptor accepts a 2A from a proposer nobody runs for an instance no leader could reach
    // (2^40); its 2B makes every learner believe it is 2^40 behind (endless catch-up and recover
    // requests), and every later leader must re-propose 2^40 no-ops before any client value: live, one
    // such datagram stops a cluster for good (the live spray's catalogue entry
    // 'accept-round-1-proposer-999-instance-2^40', Sources/PaxosTesting/HostileMessages.swift).
    @Test func acceptorsRefuseA2AForAnAbsurdInstance() {
        var a = Paxos.Acceptor(id: 1, settings: Self.settings,
                               restoring: AcceptorDurableState(promised: Ballot(round: 1, proposer: 1)))
        let effects = a.on(.accept(ballot: Ballot(round: 1, proposer: 999), proposals: [InstanceProposal(instance: 1 << 40, proposal: .noop)]))
        #expect(effects.persist.accepted.isEmpty)
    }

    // FIXED: a new leader that finds such a vote in a promise owes 2^40 no-ops (recovered a window at a
    // time since 556ebdd, so no hang, but no client value is proposed before them).
    @Test func aPromisedVoteForAnAbsurdInstanceDoesNotBlockTheLeader() {
        let p = Self.leader(promising: [AcceptedEntry(instance: 1 << 40, ballot: Ballot(round: 1, proposer: 2), proposal: .noop)])
        #expect(p.mode == .leader)
        #expect(p.backlog < 1_000_000, "backlog \(p.backlog)")
    }

    // FIXED: progress reports from learners 1 and 2 claiming instance 2^40 delivered make acceptors trim
    // (forget, durably) every vote below it, including undecided ones; live the cluster stops.
    @Test func acceptorsDoNotTrimBeyondWhatTheyAccepted() {
        let b = Ballot(round: 1, proposer: 1)
        var a = Paxos.Acceptor(id: 1, settings: Self.settings, restoring: AcceptorDurableState(
            promised: b, accepted: (1...10).map { AcceptedEntry(instance: $0, ballot: b, proposal: .noop) }))
        _ = a.on(.progress(learner: 1, delivered: 1 << 40))
        _ = a.on(.progress(learner: 2, delivered: 1 << 40))
        #expect(a.trimmedThrough <= 10)
    }

    // FIXED (memory): decided and 2B messages for far-future instances are kept without bound
    // (Learner.decidedAhead, VoteTally.votes; Proposer's DecidedInstances.above and tally).
    @Test func farFutureInstancesDoNotGrowALearnerWithoutBound() {
        var l = Paxos.Learner(id: 1, settings: Self.settings)
        for k in 0..<100 {
            let ips = (0..<1_000).map { InstanceProposal(instance: (1 << 40) + UInt64(k * 1_000 + $0), proposal: .noop) }
            _ = l.on(.decided(ips))
            _ = l.onVote(acceptor: 1, ballot: Ballot(round: .max, proposer: 999), proposals: ips)
        }
        // 100,000 absurd instances later the learner still works, and it should not hold all of them.
        #expect(l.highestSeen < 1 << 40, "highestSeen \(l.highestSeen): the learner now believes it is behind forever")
    }

    // Each of these is dropped without effect (they pass today; kept as regressions).
    @Test(arguments: [
        Message.accepted(acceptor: 0, ballot: Ballot(round: 1, proposer: 1), proposals: [InstanceProposal(instance: 1, proposal: .noop)]),
        .accepted(acceptor: 4, ballot: Ballot(round: 1, proposer: 1), proposals: [InstanceProposal(instance: 1, proposal: .noop)]),
        .accepted(acceptor: .max, ballot: Ballot(round: 1, proposer: 1), proposals: [InstanceProposal(instance: 1, proposal: .noop)]),
        .replay(acceptor: 65, entries: [AcceptedEntry(instance: 1, ballot: Ballot(round: 1, proposer: 1), proposal: .noop)]),
        .nack(acceptor: 999, promised: Ballot(round: Ballot.maxRound, proposer: 999)),
        .nack(acceptor: 1, promised: Ballot(round: .max, proposer: 1)),
        .prepare(ballot: Ballot(round: Ballot.maxRound + 1, proposer: 1), from: 1),
        .heartbeat(ballot: Ballot(round: .max, proposer: 999), firstUndecided: .max),
        .catchUp(learner: 999, from: .max - 1, to: .max),
        .catchUp(learner: 999, from: 100, to: 3),
        .recover(learner: 999, from: 0),
        .submit([Submission(id: SubmissionID(client: .max, incarnation: .max, sequence: 0), value: [1])]),
    ])
    func absurdMessagesChangeNothing(_ m: Message) {
        var p = Self.leader()
        let before = p
        var a = Paxos.Acceptor(id: 1, settings: Self.settings, blankStart: .vote)
        let effects = a.on(m)
        _ = p.on(m)
        #expect(effects.persist.isEmpty)
        #expect(p.ballot == before.ballot && p.knownBallot == before.knownBallot && p.mode == before.mode)
    }
}
