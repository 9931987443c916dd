import PaxosCore
import Testing

/// Acceptors forget instances every learner has delivered, so their state stays bounded; leaders and
/// late learners learn of it instead of tripping over the hole.
@Suite struct TrimmingTests {
    static let b = Ballot(round: 1, proposer: 1)

    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.learnerCount = 2
        s.trimBatch = 2
        s.progressTicks = 10
        s.recoverTicks = 30
        return s
    }

    static func sub(_ seq: UInt64) -> Submission {
        Submission(id: SubmissionID(client: 1, incarnation: 9, sequence: seq), value: Array("v\(seq)".utf8))
    }

    static func acceptorWithFive() -> Paxos.Acceptor {
        var a = Paxos.Acceptor(id: 1, settings: settings, blankStart: .vote)
        // The leader says 1–5 are decided: acceptors trim no further than a leader said was decided.
        _ = a.on(.accept(ballot: b, proposals: (1...5).map { InstanceProposal(instance: $0, proposal: .batch([sub($0)])) },
                         decidedThrough: 5))
        return a
    }

    @Test func anAcceptorTrimsOnlyWhatEveryLearnerDelivered() {
        var a = Self.acceptorWithFive()
        #expect(a.on(.progress(learner: 1, delivered: 4)).persist.isEmpty)  // learner 2 has not reported
        #expect(a.on(.progress(learner: 9, delivered: 5)).persist.isEmpty)  // no such learner
        let e = a.on(.progress(learner: 2, delivered: 3))
        #expect(e.persist == AcceptorWrite(trimThrough: 3))
        #expect(a.trimmedThrough == 3)
        #expect(a.accepted.keys.sorted() == [4, 5])
        #expect(a.durableState.trimmedThrough == 3)
        // Rebuilt from disk it keeps the trim point.
        let restored = Paxos.Acceptor(id: 1, settings: Self.settings, restoring: a.durableState)
        #expect(restored.trimmedThrough == 3 && restored.accepted.keys.sorted() == [4, 5])
    }

    @Test func trimmingWaitsForAWorthwhileStretch() {
        var s = Self.settings
        s.trimBatch = 100
        var a = Paxos.Acceptor(id: 1, settings: s, blankStart: .vote)
        _ = a.on(.accept(ballot: Self.b, proposals: (1...5).map { InstanceProposal(instance: $0, proposal: .noop) },
                         decidedThrough: 5))
        _ = a.on(.progress(learner: 1, delivered: 3))
        #expect(a.on(.progress(learner: 2, delivered: 3)).persist.isEmpty)
        // Everything it holds delivered: trim even a short stretch.
        _ = a.on(.progress(learner: 1, delivered: 5))
        #expect(a.on(.progress(learner: 2, delivered: 5)).persist.trimThrough == 5)
    }

    @Test func trimmedInstancesAreReportedNotServedNorAccepted() {
        var a = Self.acceptorWithFive()
        _ = a.on(.progress(learner: 1, delivered: 3))
        _ = a.on(.progress(learner: 2, delivered: 3))
        let catchUp = a.on(.catchUp(learner: 3, from: 1, to: 6))
        #expect(catchUp.send.first == Outgoing(.trimmed(acceptor: 1, through: 3), to: .learners))
        guard case .replay(_, let entries) = catchUp.send.last?.message else { Issue.record("no replay"); return }
        #expect(entries.map(\.instance) == [4, 5])
        let accept = a.on(.accept(ballot: Self.b, proposals: [InstanceProposal(instance: 2, proposal: .noop)]))
        #expect(accept.send == [Outgoing(.trimmed(acceptor: 1, through: 3), to: .proposers)])
        #expect(accept.persist.isEmpty)
        let promise = a.on(.prepare(ballot: Ballot(round: 2, proposer: 2), from: 1))
        guard case .promise(let p) = promise.send.first?.message else { Issue.record("no promise"); return }
        #expect(p.trimmedThrough == 3)
        #expect(p.accepted.map(\.instance) == [4, 5])
    }

    @Test func aLeaderNeverProposesBelowATrimPoint() {
        var s = Self.settings
        s.electionBackoffTicks = 0
        var p = Paxos.Proposer(id: 1, settings: s, seed: 1)
        _ = p.tick(now: 1)
        #expect(p.mode == .candidate)
        let entries = [AcceptedEntry(instance: 4, ballot: Self.b, proposal: .noop)]
        _ = p.on(.promise(Promise(acceptor: 1, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, trimmedThrough: 3, accepted: entries)))
        let e = p.on(.promise(Promise(acceptor: 2, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, trimmedThrough: 0, accepted: [])))
        #expect(p.mode == .leader)
        #expect(p.firstUndecided == 4)
        let accepts = e.send.compactMap { out -> [Instance]? in
            if case .accept(_, let ps, _) = out.message { return ps.map(\.instance) }
            return nil
        }
        #expect(accepts == [[4]])
    }

    @Test func aTrimmedNoticeEndsRetriesOfInstancesAcceptorsForgot() {
        var s = Self.settings
        s.electionBackoffTicks = 0
        s.acceptRetryTicks = 5
        var p = Paxos.Proposer(id: 1, settings: s, seed: 1)
        _ = p.tick(now: 1)
        _ = p.on(.promise(Promise(acceptor: 1, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, accepted: [])))
        _ = p.on(.promise(Promise(acceptor: 2, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, accepted: [])))
        _ = p.on(.submit([Self.sub(1)]))
        #expect(p.backlog == 1)
        _ = p.on(.trimmed(acceptor: 2, through: 1 << 40))  // beyond anything it proposed: ignored
        #expect(p.backlog == 1)
        _ = p.on(.trimmed(acceptor: 2, through: 1))
        #expect(p.backlog == 0)
        #expect(p.firstUndecided == 2)
        let retry = p.tick(now: 20).send.filter { if case .accept = $0.message { true } else { false } }
        #expect(retry.isEmpty)
        // The client's resubmission can be proposed again (it may not have been what was decided there).
        _ = p.on(.submit([Self.sub(1)]))
        #expect(p.backlog == 1)
    }

    @Test func learnersReportTheirDeliveredPrefix() {
        var l = Paxos.Learner(id: 2, settings: Self.settings, restoring: LearnerDurableState(nextInstance: 8, nextPosition: 20))
        #expect(l.tick(now: 1).send.contains(Outgoing(.progress(learner: 2, delivered: 7), to: .acceptors)))
        // (To the proposers it repeats its prefix on every tick, for flow control: FlowControlTests.)
        #expect(!l.tick(now: 5).send.contains { if case .progress = $0.message { $0.group == .acceptors } else { false } })
        #expect(l.tick(now: 11).send.contains(Outgoing(.progress(learner: 2, delivered: 7), to: .acceptors)))
    }

    @Test func aLearnerBehindTheTrimPointIsToldToStartFromANewerPoint() {
        var l = Paxos.Learner(id: 3, settings: Self.settings)
        _ = l.onVote(acceptor: 1, ballot: Self.b, proposals: [InstanceProposal(instance: 60, proposal: .noop)])
        _ = l.on(.trimmed(acceptor: 1, through: 50))
        #expect(l.tick(now: 1).cannotCatchUp == nil)
        // One acceptor's word is not enough, nor a notice far beyond anything voted on.
        _ = l.on(.trimmed(acceptor: 2, through: 1 << 40))
        #expect(l.tick(now: 40).cannotCatchUp == nil)
        _ = l.on(.trimmed(acceptor: 2, through: 50))
        // Another learner may still serve it: only after recoverTicks without that is it hopeless.
        #expect(l.tick(now: 60).cannotCatchUp == nil)
        let verdict = l.tick(now: 91).cannotCatchUp  // recoverTicks after the quorum was first seen (60)
        #expect(verdict?.contains("instances 1-50") == true)
        // Served in time by another learner, it would have gone on.
        var served = Paxos.Learner(id: 3, settings: Self.settings)
        _ = served.on(.trimmed(acceptor: 1, through: 2))
        _ = served.on(.trimmed(acceptor: 3, through: 2))
        _ = served.tick(now: 1)
        _ = served.on(.decided([InstanceProposal(instance: 1, proposal: .noop), InstanceProposal(instance: 2, proposal: .noop)]))
        #expect(served.tick(now: 40).cannotCatchUp == nil)
        #expect(served.nextInstance == 3)
    }
}
