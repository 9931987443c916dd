@testable import PaxosCore
import Testing

/// One suite per finding of the safety audit of 2026-12-01 (shared/notes/safety-audit.md). Each test
/// pins the protection that closes the finding; the simulator (SimulatorTests) covers them under random
/// schedules too.
enum Audit {
    static func ballot(_ round: UInt64, _ proposer: UInt32, _ incarnation: UInt32 = 0) -> Ballot {
        Ballot(round: round, proposer: proposer, incarnation: incarnation)
    }

    static func noops(_ instances: ClosedRange<Instance>, _ b: Ballot) -> [AcceptedEntry] {
        instances.map { AcceptedEntry(instance: $0, ballot: b, proposal: .noop) }
    }

    static func value(_ n: UInt64) -> Proposal {
        .batch([Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: n), value: Array("v\(n)".utf8))])
    }

    /// Deterministic proposer timing.
    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.electionBackoffTicks = 0
        s.heartbeatTicks = 1_000
        s.prepareRetryTicks = 20
        return s
    }

    /// A proposer that has just sent its first prepare.
    static func candidate(id: UInt32 = 2, incarnation: UInt32 = 0, settings: ProtocolSettings = settings) -> (Paxos.Proposer, Ballot, Instance) {
        var p = Paxos.Proposer(id: id, settings: settings, seed: 1, incarnation: incarnation)
        var t: UInt64 = 0
        while p.mode != .candidate { t += 1; _ = p.tick(now: t) }
        return (p, p.ballot, p.firstUndecided)
    }

    static func chunk(_ acceptor: UInt32, _ b: Ballot, answer: UInt64, _ k: UInt32, of n: UInt32,
                      _ entries: [AcceptedEntry], trimmed: Instance = 0) -> Message {
        .promise(Promise(acceptor: acceptor, ballot: b, from: 1, answer: answer, chunk: k, chunkCount: n,
                         trimmedThrough: trimmed, accepted: entries))
    }

    static func proposed(_ effects: Paxos.ProposerEffects) -> [InstanceProposal] {
        effects.send.flatMap { out -> [InstanceProposal] in
            if case .accept(_, let ps, _) = out.message { return ps }
            return []
        }
    }
}

/// Finding 1: a promise rebuilt from chunks of two different answers (an acceptor trimmed between them)
/// missed entries, which the new leader filled with no-ops: a second value chosen in one instance.
@Suite struct PromisesAreAtomicTests {
    @Test func chunksOfTwoAnswersAreNeverCombined() {
        var (p, b, _) = Audit.candidate()
        let old = Audit.ballot(1, 1)
        // A1's first answer: [1,2,3] [4,5,6]; its second, after trimming 1: [2,3,4] [5,6]. Chunk 0 of the
        // first and chunk 1 of the second together lack instance 4.
        _ = p.on(Audit.chunk(1, b, answer: 11, 0, of: 2, Audit.noops(1...3, old)))
        _ = p.on(Audit.chunk(1, b, answer: 22, 1, of: 2, Audit.noops(5...6, old), trimmed: 1))
        _ = p.on(Audit.chunk(3, b, answer: 33, 0, of: 1, []))
        #expect(p.mode == .candidate, "a promise was assembled from two answers")
        // The rest of the first answer completes it: instance 4 keeps its value.
        let e = p.on(Audit.chunk(1, b, answer: 11, 1, of: 2, [AcceptedEntry(instance: 4, ballot: old, proposal: Audit.value(4))]))
        #expect(p.mode == .leader)
        #expect(Audit.proposed(e).first { $0.instance == 4 }?.proposal == Audit.value(4))
    }

    @Test func everyAnswerOfAnAcceptorCarriesItsOwnLabel() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings(), seed: 5, blankStart: .vote)
        let b = Audit.ballot(1, 1)
        let labels = (0..<3).compactMap { _ -> UInt64? in
            guard case .promise(let p)? = a.on(.prepare(ballot: b, from: 1)).send.first?.message else { return nil }
            return p.answer
        }
        #expect(labels.count == 3 && Set(labels).count == 3)
    }
}

/// Finding 2: a chunk whose count differed from the first seen from that acceptor was dropped, and a
/// candidate only re-sent its prepare: it waited forever.
@Suite struct CandidatesNeverWaitForeverTests {
    @Test func anAnswerWithAnotherChunkCountCompletes() {
        var (p, b, _) = Audit.candidate()
        _ = p.on(Audit.chunk(1, b, answer: 1, 0, of: 2, Audit.noops(1...3, Audit.ballot(1, 1))))
        // A1 trimmed and answered again in one chunk.
        _ = p.on(Audit.chunk(1, b, answer: 2, 0, of: 1, Audit.noops(4...6, Audit.ballot(1, 1)), trimmed: 3))
        _ = p.on(Audit.chunk(3, b, answer: 3, 0, of: 1, []))
        #expect(p.mode == .leader)
    }

    @Test func aCandidateThatCannotCompleteStandsAgainWithAHigherBallot() {
        var s = Audit.settings
        s.prepareAttempts = 2
        var (p, b, _) = Audit.candidate(settings: s)
        var t: UInt64 = 100
        var prepares: [Ballot] = []
        while t < 400 {
            for out in p.tick(now: t).send {
                if case .prepare(let ballot, _) = out.message { prepares.append(ballot) }
            }
            t += 1
        }
        #expect(prepares.contains { $0 > b }, "only ever re-sent \(b)")
    }
}

/// Finding 3: an acceptor that lost its disk voted as new; with one acceptor wiped at a random tick, 8% of
/// schedules broke agreement.
@Suite struct AcceptorDiskLossTests {
    @Test func anAcceptorWithoutStateNeitherPromisesNorVotes() {
        var a = Paxos.Acceptor(id: 2, settings: ProtocolSettings())
        #expect(a.isRecovering)
        let b = Audit.ballot(1, 1)
        #expect(a.on(.prepare(ballot: b, from: 1)).send.isEmpty)
        #expect(a.on(.accept(ballot: b, proposals: [InstanceProposal(instance: 1, proposal: .noop)])).send.isEmpty)
        #expect(a.promised == .zero)
    }

    /// The audit's schedule: v chosen by A1 and A2, A2 loses its disk. A2 rebuilds from A1 and A3, raises
    /// their promises above every ballot it may have voted in, and reports v in its next promise — so a
    /// new leader cannot choose anything else — without counting v as its own vote.
    @Test func aWipedAcceptorRecoversWhatItsLostVoteHelpedChoose() {
        let settings = ProtocolSettings()
        let b = Audit.ballot(1, 1)
        let v = AcceptedEntry(instance: 1, ballot: b, proposal: Audit.value(1))
        var others = [
            UInt32(1): Paxos.Acceptor(id: 1, settings: settings, restoring: AcceptorDurableState(promised: b, accepted: [v])),
            3: Paxos.Acceptor(id: 3, settings: settings, restoring: AcceptorDurableState(promised: b)),
        ]
        var a2 = Paxos.Acceptor(id: 2, settings: settings, seed: 9)
        var persisted = AcceptorWrite()
        var inbox = a2.tick(now: 1).send.map(\.message)
        var events: [Paxos.AcceptorEvent] = []
        for _ in 0..<10 where a2.isRecovering {
            var answers: [Message] = []
            for m in inbox {
                for id in others.keys.sorted() {
                    let effects = others[id]!.on(m)
                    answers += effects.send.filter { $0.group == .acceptors }.map(\.message)
                }
            }
            inbox = []
            for m in answers {
                let effects = a2.on(m)
                persisted.merge(effects.persist)
                events += effects.events
                inbox += effects.send.map(\.message)
            }
        }
        #expect(!a2.isRecovering)
        #expect(events.contains { if case .recovered = $0 { true } else { false } })
        // The others promised the barrier: ballot 1.1 can no longer complete anywhere.
        #expect(others.values.allSatisfy { $0.promised > b })
        #expect(a2.promised > b && persisted.promised == a2.promised && persisted.recovering == false)
        #expect(a2.inherited[1] == v && a2.accepted.isEmpty)
        // v is in the next promise, and never in a catch-up answer (those count as votes).
        let next = Ballot(round: a2.promised.round + 1, proposer: 2)
        guard case .promise(let p)? = a2.on(.prepare(ballot: next, from: 1)).send.first?.message else {
            Issue.record("no promise"); return
        }
        #expect(p.accepted == [v])
        #expect(!a2.on(.catchUp(learner: 1, from: 1, to: 10)).send.contains {
            if case .replay = $0.message { true } else { false }
        })
    }

    @Test func aMajorityWithoutStateAndNoHistoryIsANewCluster() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings())
        _ = a.tick(now: 1)
        let request = a.recoveryRequest!
        // The same answer to an earlier request (replayed, or from before a restart) counts for nothing.
        _ = a.on(Self.blankAnswer(from: 2, request: request &+ 1))
        #expect(a.isRecovering)
        _ = a.on(Self.blankAnswer(from: 2, request: request))
        // Not before every running acceptor had time to say it is there (and whether it has history).
        #expect(a.isRecovering)
        let wait = ProtocolSettings().presenceTicks + ProtocolSettings().recoverStateRetryTicks
        let e = a.tick(now: 1 + wait)
        #expect(!a.isRecovering)
        #expect(e.events == [.startedFresh(blank: [1, 2])])
    }

    static func blankAnswer(from acceptor: UInt32, request: UInt64) -> Message {
        .acceptorState(Promise(acceptor: acceptor, ballot: .zero, from: 0, answer: 1, chunk: 0, chunkCount: 1, accepted: []),
                       recovering: true, request: request)
    }

    @Test func signsOfHistoryKeepABlankMajorityFromStartingFresh() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings())
        _ = a.tick(now: 1)
        _ = a.on(.progress(learner: 1, delivered: 40))  // a learner delivered something: not a new cluster
        _ = a.on(Self.blankAnswer(from: 2, request: a.recoveryRequest!))
        _ = a.tick(now: 1_000)
        #expect(a.isRecovering)
        // So does an acceptor that says it promised something, even if its answer was lost.
        var b = Paxos.Acceptor(id: 1, settings: ProtocolSettings())
        _ = b.tick(now: 1)
        _ = b.on(.present(acceptor: 3, promised: Audit.ballot(4, 1)))
        _ = b.on(Self.blankAnswer(from: 2, request: b.recoveryRequest!))
        _ = b.tick(now: 1_000)
        #expect(b.isRecovering)
    }

    @Test func aRecoveringAcceptorRestartsRecovering() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings())
        // Another blank acceptor's barrier: raised and persisted with the recovering mark.
        let e = a.on(.recoverState(acceptor: 2, barrier: Ballot(round: 3, proposer: 0), request: 5))
        #expect(e.persist.promised == Ballot(round: 3, proposer: 0) && e.persist.recovering == true)
        let restarted = Paxos.Acceptor(id: 1, settings: ProtocolSettings(), restoring: a.durableState)
        #expect(restarted.isRecovering, "a barrier promise is not history")
    }
}

/// Finding 4: the quorum came from each process's own config; a proposer and learner with a smaller
/// `acceptor-count` decided with a minority and poisoned the learners configured right.
@Suite struct ClusterFingerprintTests {
    static let me = Sender(role: .acceptor, id: 1, incarnation: 5, startedAt: 100)

    @Test func datagramsOfAnotherConfigurationAreNotAdmitted() {
        var five = ProtocolSettings()
        five.acceptorCount = 5
        let admission = Paxos.Admission(me: Self.me, fingerprint: five.fingerprint)
        let proposer = Sender(role: .proposer, id: 1, incarnation: 9, startedAt: 200)
        let three = Wire.Header(fingerprint: ProtocolSettings().fingerprint, sender: proposer)
        #expect(admission.verdict(on: three) == .foreignCluster(ClusterFingerprint(acceptorCount: 3, learnerCount: 2)))
        #expect(admission.verdict(on: Wire.Header(fingerprint: five.fingerprint, sender: proposer)) == .admit)
        var learners = five
        learners.learnerCount = 3
        #expect(admission.verdict(on: Wire.Header(fingerprint: learners.fingerprint, sender: proposer)) != .admit)
    }
}

/// Finding 5: two proposers with one id, or a proposer restarted without its database, led at the same
/// ballot; acceptors answered the equal ballot again, and two values were chosen in one instance.
@Suite struct BallotsAreUniqueTests {
    @Test func twoProcessesWithOneProposerIdUseDifferentBallots() {
        let (_, first, _) = Audit.candidate(id: 1, incarnation: 111)
        let (_, second, _) = Audit.candidate(id: 1, incarnation: 222)  // e.g. restarted without its database
        #expect(first.round == second.round && first.proposer == second.proposer)
        #expect(first != second)
    }

    @Test func anAcceptorPromisesOneOfThemAndRefusesTheOther() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote)
        let high = Audit.ballot(1, 1, 222)
        let low = Audit.ballot(1, 1, 111)
        #expect(!a.on(.prepare(ballot: high, from: 1)).persist.isEmpty)
        #expect(a.on(.prepare(ballot: low, from: 1)).send == [Outgoing(.nack(acceptor: 1, promised: high), to: .proposers)])
        let accept = a.on(.accept(ballot: low, proposals: [InstanceProposal(instance: 1, proposal: .noop)]))
        #expect(accept.persist.isEmpty)
    }

    @Test func aRestoredPromiseKeepsItsIncarnation() {
        let b = Audit.ballot(4, 2, 0xDEAD)
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings(), restoring: AcceptorDurableState(promised: b))
        #expect(a.on(.prepare(ballot: Audit.ballot(4, 2, 0xBEEF), from: 1)).send.first?.message == .nack(acceptor: 1, promised: b))
    }
}

/// Finding 6 (the protocol's part; the output file's is in OutputRepairTests): a learner rebuilt after
/// its database was deleted, in an idle cluster whose acceptors trimmed, waited without a word, because
/// trim notices far beyond anything it had heard were discarded as absurd.
@Suite struct RebuiltLearnerTests {
    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.recoverTicks = 10
        return s
    }

    @Test func aRebuiltLearnerInAnIdleTrimmedClusterStopsWithItsReason() {
        var l = Paxos.Learner(id: 2, settings: Self.settings)
        for a: UInt32 in 1...3 { _ = l.on(.trimmed(acceptor: a, through: 100_000)) }
        var reason: String?
        for t: UInt64 in 1...200 where reason == nil { reason = l.tick(now: t).cannotCatchUp }
        #expect(reason?.contains("another learner's database") == true)
    }

    @Test func aLearnerThatKeepsDeliveringIsNotStoppedByFarTrimNotices() {
        var l = Paxos.Learner(id: 2, settings: Self.settings)
        for a: UInt32 in 1...3 { _ = l.on(.trimmed(acceptor: a, through: 100_000)) }
        let b = Audit.ballot(1, 1)
        for t: UInt64 in 1...200 {
            // An instance decided every tick (forged notices must not stop a busy learner).
            for a: UInt32 in 1...2 {
                _ = l.onVote(acceptor: a, ballot: b, proposals: [InstanceProposal(instance: t, proposal: .noop)])
            }
            #expect(l.tick(now: t).cannotCatchUp == nil, "tick \(t)")
        }
    }
}

/// Finding 7: unkeyed forgeries that stopped the cluster for good.
@Suite struct UnkeyedForgeryTests {
    /// Two forged prepares, each a million rounds higher: acceptors promised a round no proposer had
    /// heard of, and the nacks saying so were ignored as implausible.
    @Test func forgedPreparesAMillionRoundsApartDoNotLockProposersOut() {
        let settings = Audit.settings
        var acceptors = (1...3).map { Paxos.Acceptor(id: UInt32($0), settings: settings, blankStart: .vote) }
        for round in [Ballot.maxRoundJump, 2 * Ballot.maxRoundJump] {
            for k in acceptors.indices { _ = acceptors[k].on(.prepare(ballot: Audit.ballot(round, 999), from: 1)) }
        }
        var p = Paxos.Proposer(id: 1, settings: settings, seed: 1)
        Self.electAgainst(&acceptors, &p)
        #expect(p.mode == .leader, "still \(p.mode) at ballot \(p.ballot)")
    }

    /// Forged progress from every configured learner made acceptors forget undecided instances.
    @Test func forgedProgressFromEveryLearnerTrimsNothingUndecided() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote)
        _ = a.on(.accept(ballot: Audit.ballot(1, 1), proposals: (1...10).map { InstanceProposal(instance: $0, proposal: .noop) }))
        _ = a.on(.progress(learner: 1, delivered: 10))
        let e = a.on(.progress(learner: 2, delivered: 10))
        #expect(e.persist.trimThrough == nil && a.trimmedThrough == 0, "no leader said anything was decided")
        // Once a leader says 1–4 are decided, that much may go.
        _ = a.on(.accept(ballot: Audit.ballot(1, 1), proposals: [InstanceProposal(instance: 11, proposal: .noop)], decidedThrough: 4))
        _ = a.on(.progress(learner: 1, delivered: 10))
        #expect(a.trimmedThrough == 0 || a.trimmedThrough <= 4)
    }

    /// Runs proposer 1 against three real acceptors until it leads (or 2,000 ticks pass).
    static func electAgainst(_ acceptors: inout [Paxos.Acceptor], _ p: inout Paxos.Proposer, forged: [Message] = []) {
        var inbox = forged
        var t: UInt64 = 0
        while p.mode != .leader && t < 2_000 {
            t += 1
            var out = p.tick(now: t).send
            for m in inbox { out += p.on(m).send }
            inbox = []
            for o in out where o.group == .acceptors {
                for k in acceptors.indices { inbox += acceptors[k].on(o.message).send.filter { $0.group == .proposers }.map(\.message) }
            }
        }
    }

    /// Forged nacks from a real acceptor id, each a million rounds up, lifted proposers beyond what
    /// acceptors find plausible: their prepares were then ignored for good (found by the fuzzer).
    @Test func forgedNacksDoNotLiftProposersOutOfReachForGood() {
        var acceptors = (1...3).map { Paxos.Acceptor(id: UInt32($0), settings: Audit.settings, blankStart: .vote) }
        var p = Paxos.Proposer(id: 1, settings: Audit.settings, seed: 1, incarnation: 7)
        let forged = (1...3).map { Message.nack(acceptor: 1, promised: Audit.ballot(UInt64($0) * Ballot.maxRoundJump, 2)) }
        Self.electAgainst(&acceptors, &p, forged: forged)
        #expect(p.mode == .leader, "still \(p.mode) at ballot \(p.ballot)")
        #expect(p.ballot.round < Ballot.maxRoundJump, "came back down to the acceptors' promises")
    }

    /// The same before any acceptor promised anything: their nacks say `.zero` (found by the fuzzer).
    @Test func aForgedNackBeforeTheFirstPromiseDoesNotLockProposersOut() {
        var acceptors = (1...3).map { Paxos.Acceptor(id: UInt32($0), settings: Audit.settings, blankStart: .vote) }
        var p = Paxos.Proposer(id: 1, settings: Audit.settings, seed: 1, incarnation: 7)
        // Heard before its first election: its first ballot is already out of the acceptors' reach.
        _ = p.on(.nack(acceptor: 1, promised: Audit.ballot(Ballot.maxRoundJump, 999)))
        Self.electAgainst(&acceptors, &p)
        #expect(p.mode == .leader, "still \(p.mode) at ballot \(p.ballot)")
    }

    /// A forged promise whose trim point is 2^62 made a leader number instances no datagram may carry.
    @Test func aPromiseTrimmedBeyondHalfTheInstanceSpaceIsIgnored() {
        var (p, b, _) = Audit.candidate()
        _ = p.on(Audit.chunk(1, b, answer: 1, 0, of: 1, [], trimmed: Wire.maxInstance))
        _ = p.on(Audit.chunk(3, b, answer: 2, 0, of: 1, []))
        #expect(p.mode == .candidate)
        _ = p.on(Audit.chunk(1, b, answer: 3, 0, of: 1, []))
        #expect(p.mode == .leader && p.firstUndecided == 1)
    }

    /// A forged state answer at round 2^64-1 trapped a recovering acceptor computing its barrier.
    @Test func aRecoveringAcceptorIgnoresAbsurdStateAnswers() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings())
        _ = a.tick(now: 1)
        for id: UInt32 in [2, 3] {
            _ = a.on(.acceptorState(Promise(acceptor: id, ballot: Ballot(round: .max, proposer: 2), from: 0, answer: 1,
                                            chunk: 0, chunkCount: 1, accepted: []), recovering: false,
                                    request: a.recoveryRequest!))
        }
        #expect(a.isRecovering)
        #expect(a.promised == .zero)
    }
}

