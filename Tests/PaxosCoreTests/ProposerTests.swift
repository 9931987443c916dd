@testable import PaxosCore
import Testing

/// The proposer: elections, phase 1 recovery, batching, the in-flight window, retries, and stepping down.
@Suite struct ProposerTests {
    typealias Proposer = Paxos.Proposer

    // MARK: helpers

    /// Deterministic timing: no election jitter, and heartbeats rare enough not to show up unless asked.
    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.electionBackoffTicks = 0
        s.heartbeatTicks = 1_000
        s.leaderTimeoutTicks = 50
        s.prepareRetryTicks = 20
        s.acceptRetryTicks = 20
        s.maxBatchBytes = 30  // two 14-byte submissions per instance
        s.window = 2
        return s
    }

    static func ballot(_ round: UInt64, _ proposer: UInt32) -> Ballot { Ballot(round: round, proposer: proposer) }

    /// A submission of client 5 whose encoded size is 14 bytes (10-byte value).
    static func sub(_ sequence: UInt64, client: UInt32 = 5) -> Submission {
        let text = Array("v\(sequence)".utf8)
        return Submission(id: SubmissionID(client: client, incarnation: 77, sequence: sequence),
                          value: text + Array(repeating: 0x2E, count: 10 - text.count))
    }

    static func entry(_ instance: Instance, _ b: Ballot, _ p: Proposal) -> AcceptedEntry {
        AcceptedEntry(instance: instance, ballot: b, proposal: p)
    }

    static func ip(_ instance: Instance, _ p: Proposal) -> InstanceProposal { InstanceProposal(instance: instance, proposal: p) }

    static func promise(_ acceptor: UInt32, _ b: Ballot, from: Instance = 1, _ accepted: [AcceptedEntry] = [],
                        chunk: UInt32 = 0, of count: UInt32 = 1) -> Message {
        .promise(Promise(acceptor: acceptor, ballot: b, from: from, chunk: chunk, chunkCount: count, accepted: accepted))
    }

    static func accept(_ b: Ballot, _ proposals: [InstanceProposal], decided: Instance) -> Outgoing {
        Outgoing(.accept(ballot: b, proposals: proposals, decidedThrough: decided), to: .acceptors)
    }

    static func accept(_ b: Ballot, _ proposals: [InstanceProposal]) -> Outgoing {
        Outgoing(.accept(ballot: b, proposals: proposals), to: .acceptors)
    }

    static func heartbeat(_ b: Ballot, _ firstUndecided: Instance = 1) -> Outgoing {
        Outgoing(.heartbeat(ballot: b, firstUndecided: firstUndecided), to: .proposers)
    }

    /// Runs the first election of proposer `p` at tick `now` and answers it with complete promises from
    /// the given acceptors. Returns the effects of the promise that completed the quorum.
    @discardableResult
    static func elect(_ p: inout Proposer, at now: UInt64 = 1,
                      promises: [UInt32: [AcceptedEntry]] = [1: [], 2: []]) -> Paxos.ProposerEffects {
        let start = p.tick(now: now)
        guard case .prepare(let b, let from)? = start.send.first?.message else {
            Issue.record("no prepare at tick \(now): \(start)")
            return .init()
        }
        var last = Paxos.ProposerEffects()
        for (acceptor, entries) in promises.sorted(by: { $0.key < $1.key }) {
            last = p.on(promise(acceptor, b, from: from, entries))
        }
        #expect(p.mode == .leader)
        return last
    }

    static func leader(settings: ProtocolSettings = settings) -> Proposer {
        var p = Proposer(id: 1, settings: settings, seed: 1)
        elect(&p)
        return p
    }

    @Test func submissionFixtureIsFourteenBytes() {
        for k: UInt64 in [1, 9, 10, 99, 100] { #expect(Wire.size(of: Self.sub(k)) == 14) }
        #expect(Set((1...20).map { Self.sub($0).value }).count == 20)
    }

    // MARK: election

    @Test func proposerOneStartsAnElectionOnItsFirstTickPersistingTheRoundFirst() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 7)
        #expect(p.mode == .follower)
        let e = p.tick(now: 1)
        // The round to persist comes in the same effects as the prepare it covers (persisted before sending).
        #expect(e.persist == ProposerDurableState(highestRound: 1))
        #expect(e.send == [Outgoing(.prepare(ballot: Self.ballot(1, 1), from: 1), to: .acceptors)])
        #expect(p.mode == .candidate)
        #expect(p.ballot == Self.ballot(1, 1))
    }

    @Test func withBackoffProposerOneStillElectsWithinTheBackoffAndProposerTwoWaits() {
        var s = Self.settings
        s.electionBackoffTicks = 30
        for seed: UInt64 in 1...20 {
            var one = Proposer(id: 1, settings: s, seed: seed)
            var two = Proposer(id: 2, settings: s, seed: seed)
            var elections: [UInt64] = []
            for t: UInt64 in 0...30 {
                if one.tick(now: t).persist != nil { elections.append(t) }
                #expect(two.tick(now: t).send.isEmpty)
            }
            #expect(elections.count == 1, "seed \(seed)")
            for t: UInt64 in 31..<50 { #expect(two.tick(now: t).send.isEmpty) }
        }
    }

    @Test func aCandidateRetransmitsTheSamePrepareAfterPrepareRetryTicks() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.tick(now: 1)
        #expect(p.tick(now: 20) == Paxos.ProposerEffects())
        let retry = p.tick(now: 21)
        #expect(retry.persist == nil)
        #expect(retry.send == [Outgoing(.prepare(ballot: Self.ballot(1, 1), from: 1), to: .acceptors)])
    }

    @Test func aQuorumOfPromisesMakesALeaderThatHeartbeatsAtOnce() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.tick(now: 1)
        let b = Self.ballot(1, 1)
        #expect(p.on(Self.promise(2, b)) == Paxos.ProposerEffects())
        #expect(p.mode == .candidate)
        let e = p.on(Self.promise(3, b))
        #expect(p.mode == .leader)
        #expect(e.persist == nil)
        #expect(e.send == [Self.heartbeat(b)])
    }

    @Test func twoPromisesFromTheSameAcceptorAreNotAQuorum() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.tick(now: 1)
        let b = Self.ballot(1, 1)
        for _ in 0..<3 { #expect(p.on(Self.promise(1, b)).send.isEmpty) }
        #expect(p.mode == .candidate)
        _ = p.on(Self.promise(3, b))
        #expect(p.mode == .leader)
    }

    @Test func anIncompleteChunkedPromiseDoesNotCount() {
        var s = Self.settings
        s.window = 8  // every recovered instance fits at once
        var p = Proposer(id: 1, settings: s, seed: 1)
        _ = p.tick(now: 1)
        let b = Self.ballot(1, 1)
        let old = Self.ballot(0, 0)
        #expect(p.on(Self.promise(1, b, [Self.entry(1, old, .batch([Self.sub(1)]))], chunk: 0, of: 2)).send.isEmpty)
        #expect(p.on(Self.promise(2, b)).send.isEmpty)
        #expect(p.mode == .candidate)
        // A chunk claiming another count does not complete it either.
        #expect(p.on(Self.promise(1, b, [Self.entry(2, old, .noop)], chunk: 1, of: 3)).send.isEmpty)
        #expect(p.mode == .candidate)
        let e = p.on(Self.promise(1, b, [Self.entry(3, old, .batch([Self.sub(3)]))], chunk: 1, of: 2))
        #expect(p.mode == .leader)
        // Both chunks' entries were adopted (and the hole at 2 filled).
        #expect(e.send == [Self.heartbeat(b), Self.accept(b, [Self.ip(1, .batch([Self.sub(1)])), Self.ip(2, .noop),
                                                              Self.ip(3, .batch([Self.sub(3)]))])])
    }

    @Test func promisesForAnotherBallotOrStartOrFromAStrangerAreIgnored() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.tick(now: 1)
        let b = Self.ballot(1, 1)
        #expect(p.on(Self.promise(1, b)).send.isEmpty)
        #expect(p.on(Self.promise(2, Self.ballot(1, 2))).send.isEmpty)
        #expect(p.on(Self.promise(2, Self.ballot(2, 1))).send.isEmpty)
        #expect(p.on(Self.promise(2, b, from: 2)).send.isEmpty)
        #expect(p.on(Self.promise(99, b)).send.isEmpty)
        #expect(p.on(Self.promise(0, b)).send.isEmpty)
        #expect(p.on(Self.promise(4, b)).send.isEmpty)  // 3 acceptors configured
        #expect(p.on(.promise(Promise(acceptor: 2, ballot: b, from: 1, chunk: 1, chunkCount: 1, accepted: []))).send.isEmpty)
        #expect(p.mode == .candidate)
    }

    @Test func phaseOneAdoptsTheHighestBallotValuePerInstanceAndFillsHolesWithNoops() {
        var s = Self.settings
        s.window = 10
        var p = Proposer(id: 1, settings: s, restoring: ProposerDurableState(highestRound: 5), seed: 1)
        let va = Proposal.batch([Self.sub(1)])
        let vbOld = Proposal.batch([Self.sub(2)])
        let vbNew = Proposal.batch([Self.sub(3, client: 6)])
        let vd = Proposal.batch([Self.sub(4)])
        let e = Self.elect(&p, promises: [
            1: [Self.entry(1, Self.ballot(2, 2), va), Self.entry(2, Self.ballot(4, 1), vbOld)],
            2: [Self.entry(2, Self.ballot(4, 2), vbNew), Self.entry(4, Self.ballot(2, 2), vd)],
        ])
        let b = Self.ballot(6, 1)
        #expect(p.ballot == b)
        #expect(e.send == [Self.heartbeat(b), Self.accept(b, [Self.ip(1, va), Self.ip(2, vbNew), Self.ip(3, .noop), Self.ip(4, vd)])])
        // Fresh submissions go after the recovered instances.
        #expect(p.on(.submit([Self.sub(9)])).send == [Self.accept(b, [Self.ip(5, .batch([Self.sub(9)]))])])
    }

    // MARK: phase 2

    @Test func submissionsAreBatchedWithinMaxBatchBytesAndTheWindow() {
        var p = Self.leader()
        let b = p.ballot
        let subs = (1...7).map { Self.sub($0) }
        let e = p.on(.submit(subs))
        #expect(e.send == [Self.accept(b, [Self.ip(1, .batch([subs[0], subs[1]])), Self.ip(2, .batch([subs[2], subs[3]]))])])
        for case .accept(_, let proposals, _) in e.send.map(\.message) {
            for proposal in proposals {
                #expect(proposal.proposal.submissions.reduce(0) { $0 + Wire.size(of: $1) } <= Self.settings.maxBatchBytes)
            }
        }
        #expect(p.backlog == 3 + 2)  // three queued submissions, two instances in flight
        // The window is full: more submissions only queue.
        #expect(p.on(.submit([Self.sub(8)])).send.isEmpty)
    }

    @Test func aSubmissionLargerThanTheBatchBudgetTravelsAlone() {
        var p = Self.leader()
        let big = Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: 1), value: Array(repeating: 0x61, count: 100))
        let e = p.on(.submit([big, Self.sub(2)]))
        #expect(e.send == [Self.accept(p.ballot, [Self.ip(1, .batch([big])), Self.ip(2, .batch([Self.sub(2)]))])])
    }

    @Test func anUndecidedInstanceIsResentAfterAcceptRetryTicks() {
        var p = Self.leader()  // elected at tick 1
        let b = p.ballot
        let subs = (1...3).map { Self.sub($0) }
        _ = p.on(.submit(subs))
        let all = [Self.ip(1, .batch([subs[0], subs[1]])), Self.ip(2, .batch([subs[2]]))]
        for t: UInt64 in 2...20 { #expect(p.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(p.tick(now: 21).send == [Self.accept(b, all)])
        // Once instance 1 is decided only instance 2 is resent.
        _ = p.on(.accepted(acceptor: 1, ballot: b, proposals: [all[0]]))
        _ = p.on(.accepted(acceptor: 2, ballot: b, proposals: [all[0]]))
        // (Its chosen report is repeated on the next two ticks.)
        let report = Outgoing(.chosen([ChosenRun(client: 5, incarnation: 77, first: 1, count: 2)]), to: .clients)
        #expect(p.tick(now: 22).send == [report] && p.tick(now: 23).send == [report])
        for t: UInt64 in 24...40 { #expect(p.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(p.tick(now: 41).send == [Self.accept(b, [all[1]], decided: 1)])
    }

    @Test func aQuorumOfTwoBsReportsTheChosenIDsAndRefillsTheWindow() {
        var p = Self.leader()
        let b = p.ballot
        let subs = (1...6).map { Self.sub($0) }
        _ = p.on(.submit(subs))
        let first = Self.ip(1, .batch([subs[0], subs[1]]))
        #expect(p.on(.accepted(acceptor: 1, ballot: b, proposals: [first])).send.isEmpty)
        #expect(p.on(.accepted(acceptor: 1, ballot: b, proposals: [first])).send.isEmpty)
        let e = p.on(.accepted(acceptor: 3, ballot: b, proposals: [first]))
        #expect(e.send == [Outgoing(.chosen(ChosenRun.runs(of: [subs[0].id, subs[1].id])), to: .clients),
                           Self.accept(b, [Self.ip(3, .batch([subs[4], subs[5]]))], decided: 1)])
        #expect(p.firstUndecided == 2)
        #expect(p.backlog == 2)
        // A late third vote changes nothing.
        #expect(p.on(.accepted(acceptor: 2, ballot: b, proposals: [first])).send.isEmpty)
    }

    @Test func decisionsLearnedFromReplaysAndDecidedCountToo() {
        var p = Self.leader()
        let b = p.ballot
        _ = p.on(.submit([Self.sub(1), Self.sub(2), Self.sub(3)]))
        let one = Self.ip(1, .batch([Self.sub(1), Self.sub(2)]))
        let two = Self.ip(2, .batch([Self.sub(3)]))
        _ = p.on(.replay(acceptor: 1, entries: [Self.entry(1, b, one.proposal)]))
        #expect(p.on(.replay(acceptor: 2, entries: [Self.entry(1, b, one.proposal)])).send
                    == [Outgoing(.chosen(ChosenRun.runs(of: [Self.sub(1).id, Self.sub(2).id])), to: .clients)])
        #expect(p.on(.decided([two])).send == [Outgoing(.chosen(ChosenRun.runs(of: [Self.sub(3).id])), to: .clients)])
        #expect(p.firstUndecided == 3)
        #expect(p.backlog == 0)
    }

    @Test func anotherValueDecidedInOurInstanceSendsOurSubmissionsAgainElsewhere() {
        var p = Self.leader()
        let mine = Self.sub(1)
        let theirs = Self.sub(1, client: 9)
        _ = p.on(.submit([mine]))
        let other = Self.ballot(1, 2)
        _ = p.on(.accepted(acceptor: 1, ballot: other, proposals: [Self.ip(1, .batch([theirs]))]))
        let e = p.on(.accepted(acceptor: 2, ballot: other, proposals: [Self.ip(1, .batch([theirs]))]))
        // 2Bs name the value by digest: the leader knows instance 1 is decided, not with what; it proposes
        // its own submission again (learners deliver each once) and tells no client anything.
        #expect(e.send == [Self.accept(p.ballot, [Self.ip(2, .batch([mine]))], decided: 1)])
    }

    @Test func duplicateAndZeroSequenceSubmissionsAreQueuedOnce() {
        var p = Self.leader()
        let zero = Submission(id: SubmissionID(client: 5, incarnation: 77, sequence: 0), value: [1])
        let e = p.on(.submit([Self.sub(1), Self.sub(1), zero]))
        #expect(e.send == [Self.accept(p.ballot, [Self.ip(1, .batch([Self.sub(1)]))])])
        // A client's resubmission of what is in flight is not proposed twice.
        #expect(p.on(.submit([Self.sub(1)])).send.isEmpty)
        #expect(p.backlog == 1)
    }

    /// What a leader holds is kept as ranges of each client run's sequence numbers: a resubmission that
    /// overlaps them adds only what is new, in order, a decided instance is reported as runs, and what was
    /// decided is proposable again (a client that did not hear of it resubmits it).
    @Test func resubmissionsOverlappingWhatIsQueuedAddOnlyWhatIsNew() {
        var p = Self.leader()
        let b = p.ballot
        let subs = (1...8).map { Self.sub($0) }
        _ = p.on(.submit(Array(subs[0..<6])))
        #expect(p.backlog == 2 + 2)  // [1, 2] and [3, 4] in flight, 5 and 6 waiting
        let other = Self.sub(1, client: 6)
        let absurd = Submission(id: SubmissionID(client: 5, incarnation: 77, sequence: .max), value: [1])
        #expect(p.on(.submit(Array(subs[2..<8]) + [other, absurd])).send.isEmpty)
        #expect(p.backlog == 2 + 5)  // 7, 8 and client 6's first join 5 and 6; 2^64 - 1 is dropped
        let first = Self.ip(1, .batch([subs[0], subs[1]]))
        _ = p.on(.accepted(acceptor: 1, ballot: b, proposals: [first]))
        let e = p.on(.accepted(acceptor: 2, ballot: b, proposals: [first]))
        #expect(e.send == [Outgoing(.chosen([ChosenRun(client: 5, incarnation: 77, first: 1, count: 2)]), to: .clients),
                           Self.accept(b, [Self.ip(3, .batch([subs[4], subs[5]]))], decided: 1)])
        #expect(p.backlog == 2 + 3)
        // 1 was decided and may be proposed again; 5 is in flight.
        _ = p.on(.submit([subs[0], subs[4]]))
        #expect(p.backlog == 2 + 4)
        // The queue's order: 7, 8, client 6's first, then 1, two per instance as the window frees.
        let second = Self.ip(2, .batch([subs[2], subs[3]]))
        _ = p.on(.accepted(acceptor: 1, ballot: b, proposals: [second]))
        #expect(p.on(.accepted(acceptor: 2, ballot: b, proposals: [second])).send
                    == [Outgoing(.chosen([ChosenRun(client: 5, incarnation: 77, first: 3, count: 2)]), to: .clients),
                        Self.accept(b, [Self.ip(4, .batch([subs[6], subs[7]]))], decided: 2)])
    }

    /// A client hears of decisions only through chosen reports: each is repeated on the next
    /// `chosenRepeatTicks` ticks (a client whose whole window was in a lost one has nothing later to notice by).
    @Test func chosenReportsAreRepeatedOnTheNextTicksThenDropped() {
        var p = Self.leader()  // elected at tick 1
        let b = p.ballot
        _ = p.on(.submit([Self.sub(1), Self.sub(2)]))
        let one = Self.ip(1, .batch([Self.sub(1), Self.sub(2)]))
        _ = p.on(.accepted(acceptor: 1, ballot: b, proposals: [one]))
        let report = Outgoing(.chosen([ChosenRun(client: 5, incarnation: 77, first: 1, count: 2)]), to: .clients)
        #expect(p.on(.accepted(acceptor: 2, ballot: b, proposals: [one])).send == [report])
        #expect(p.tick(now: 1).send.isEmpty)  // not again in the tick it was sent
        #expect(p.tick(now: 2).send == [report])
        #expect(p.tick(now: 3).send == [report])
        #expect(p.tick(now: 4).send.isEmpty)
        // Off: never repeated.
        var settings = Self.settings
        settings.chosenRepeatTicks = 0
        var quiet = Self.leader(settings: settings)
        _ = quiet.on(.submit([Self.sub(1), Self.sub(2)]))
        _ = quiet.on(.accepted(acceptor: 1, ballot: quiet.ballot, proposals: [one]))
        #expect(quiet.on(.accepted(acceptor: 2, ballot: quiet.ballot, proposals: [one])).send == [report])
        #expect((1...4).allSatisfy { quiet.tick(now: $0).send.isEmpty })
    }

    @Test func aFollowerDropsSubmissionsAndACandidateKeepsThem() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        #expect(p.on(.submit([Self.sub(1)])).send.isEmpty)
        #expect(p.backlog == 0)
        _ = p.tick(now: 1)
        #expect(p.on(.submit([Self.sub(2)])).send.isEmpty)
        _ = p.on(Self.promise(1, p.ballot))
        let e = p.on(Self.promise(2, p.ballot))
        #expect(e.send == [Self.heartbeat(p.ballot), Self.accept(p.ballot, [Self.ip(1, .batch([Self.sub(2)]))])])
    }

    @Test func aLeaderHeartbeatsEveryHeartbeatTicks() {
        var s = Self.settings
        s.heartbeatTicks = 10
        var p = Self.leader(settings: s)  // elected (and heartbeat sent) at tick 1
        for t: UInt64 in 2...10 { #expect(p.tick(now: t).send.isEmpty) }
        #expect(p.tick(now: 11).send == [Self.heartbeat(p.ballot)])
        #expect(p.tick(now: 12).send.isEmpty)
        #expect(p.tick(now: 21).send == [Self.heartbeat(p.ballot)])
    }

    // MARK: stepping down and taking over

    @Test func aNackWithAHigherBallotMakesTheLeaderStepDown() {
        var p = Self.leader()
        _ = p.on(.submit([Self.sub(1), Self.sub(2), Self.sub(3)]))
        // Lower or equal promises, or strangers, change nothing.
        #expect(p.on(.nack(acceptor: 2, promised: .zero)).send.isEmpty)
        #expect(p.on(.nack(acceptor: 2, promised: p.ballot)).send.isEmpty)
        #expect(p.on(.nack(acceptor: 99, promised: Self.ballot(100, 9))).send.isEmpty)
        #expect(p.mode == .leader)
        #expect(p.knownBallot == p.ballot)

        #expect(p.on(.nack(acceptor: 2, promised: Self.ballot(3, 2))).send.isEmpty)
        #expect(p.mode == .follower)
        #expect(p.knownBallot == Self.ballot(3, 2))
        #expect(p.backlog == 0)  // clients resubmit to whoever leads
        // A leader that stays silent is replaced by this proposer, above the ballot it heard of.
        for t: UInt64 in 2..<51 { #expect(p.tick(now: t).send.isEmpty) }
        let e = p.tick(now: 51)
        #expect(e.persist == ProposerDurableState(highestRound: 4))
        #expect(e.send == [Outgoing(.prepare(ballot: Self.ballot(4, 1), from: 1), to: .acceptors)])
    }

    @Test func aNackedCandidateStepsDown() {
        var p = Proposer(id: 1, settings: Self.settings, seed: 1)
        _ = p.tick(now: 1)
        _ = p.on(.nack(acceptor: 1, promised: Self.ballot(2, 3)))
        #expect(p.mode == .follower)
        #expect(p.on(Self.promise(2, Self.ballot(1, 1))).send.isEmpty)
        #expect(p.on(Self.promise(3, Self.ballot(1, 1))).send.isEmpty)
        #expect(p.mode == .follower)
    }

    @Test func aStandbyStaysQuietWhileHeartbeatsArriveAndTakesOverAfterTheTimeout() {
        var p = Proposer(id: 2, settings: Self.settings, seed: 1)
        let leaderBallot = Self.ballot(1, 1)
        for t: UInt64 in 1...200 {
            #expect(p.tick(now: t) == Paxos.ProposerEffects(), "tick \(t)")
            if t % 10 == 0 { #expect(p.on(.heartbeat(ballot: leaderBallot, firstUndecided: 1)).send.isEmpty) }
        }
        #expect(p.mode == .follower)
        // The last heartbeat came at tick 200.
        for t: UInt64 in 201..<250 { #expect(p.tick(now: t).send.isEmpty, "tick \(t)") }
        let e = p.tick(now: 250)
        #expect(e.persist == ProposerDurableState(highestRound: 2))
        #expect(e.send == [Outgoing(.prepare(ballot: Self.ballot(2, 2), from: 1), to: .acceptors)])
    }

    @Test func twoBsOfTheCurrentLeaderAlsoHoldOffAStandby() {
        var p = Proposer(id: 2, settings: Self.settings, seed: 1)
        let leaderBallot = Self.ballot(1, 1)
        _ = p.on(.heartbeat(ballot: leaderBallot, firstUndecided: 1))
        for t: UInt64 in 1...120 {
            #expect(p.tick(now: t).send.isEmpty, "tick \(t)")
            _ = p.on(.accepted(acceptor: 1, ballot: leaderBallot, proposals: [Self.ip(t, .noop)]))
        }
        #expect(p.mode == .follower)
    }

    @Test func staleHeartbeatsDoNotHoldOffAStandby() {
        var p = Proposer(id: 2, settings: Self.settings, seed: 1)
        _ = p.on(.heartbeat(ballot: Self.ballot(5, 3), firstUndecided: 1))  // deadline 50
        var electedAt: UInt64?
        for t: UInt64 in 1...60 {
            if p.tick(now: t).persist != nil { electedAt = t; break }
            _ = p.on(.heartbeat(ballot: Self.ballot(4, 1), firstUndecided: 1))
        }
        #expect(electedAt == 50)
        #expect(p.ballot == Self.ballot(6, 2))
    }

    @Test func aRestoredRoundMakesTheNextBallotStrictlyHigher() {
        var first = Proposer(id: 3, settings: Self.settings, seed: 1)
        var disk = ProposerDurableState()
        var ballots: [Ballot] = []
        for t: UInt64 in 0...200 {
            let e = first.tick(now: t)
            if let d = e.persist { disk = d; ballots.append(first.ballot) }
            // Nobody answers; a rival's nack forces elections over and over.
            if t % 40 == 39 { _ = first.on(.nack(acceptor: 1, promised: Ballot(round: first.ballot.round, proposer: 4))) }
        }
        #expect(ballots.count >= 2)
        #expect(disk.highestRound == ballots.last!.round)

        var restarted = Proposer(id: 3, settings: Self.settings, restoring: disk, seed: 2, now: 300)
        var next: Ballot?
        for t: UInt64 in 300...500 where next == nil {
            if restarted.tick(now: t).persist != nil { next = restarted.ballot }
        }
        #expect(next.map { $0 > ballots.max()! } == true)
        #expect(next == Ballot(round: disk.highestRound + 1, proposer: 3))
    }

    @Test func aFollowerLearnsDecisionsAndPreparesFromItsFirstUndecided() {
        var p = Proposer(id: 2, settings: Self.settings, seed: 1)
        let leaderBallot = Self.ballot(1, 1)
        let two = [Self.ip(1, .noop), Self.ip(2, .batch([Self.sub(1)]))]
        #expect(p.on(.accepted(acceptor: 1, ballot: leaderBallot, proposals: two)).send.isEmpty)
        #expect(p.on(.accepted(acceptor: 3, ballot: leaderBallot, proposals: two)).send.isEmpty)  // followers send no chosen
        #expect(p.firstUndecided == 3)
        var e = Paxos.ProposerEffects()
        for t: UInt64 in 1...50 where e.send.isEmpty { e = p.tick(now: t) }
        #expect(e.send == [Outgoing(.prepare(ballot: Self.ballot(2, 2), from: 3), to: .acceptors)])
    }

    @Test func aRecoverRequestMakesTheLeaderRerunPhaseOneAtMostOncePerTimeout() {
        var p = Self.leader()
        let b1 = p.ballot
        _ = p.on(.submit([Self.sub(1)]))
        let one = Self.ip(1, .batch([Self.sub(1)]))
        _ = p.on(.accepted(acceptor: 1, ballot: b1, proposals: [one]))
        _ = p.on(.accepted(acceptor: 2, ballot: b1, proposals: [one]))
        #expect(p.firstUndecided == 2)

        #expect(p.on(.recover(learner: 1, from: 0)).send.isEmpty)
        // A learner the cluster does not have (learner-count is 2) cannot force an election.
        #expect(p.on(.recover(learner: 4, from: 1)) == Paxos.ProposerEffects())
        let e = p.on(.recover(learner: 2, from: 1))
        let b2 = Self.ballot(2, 1)
        #expect(e.persist == ProposerDurableState(highestRound: 2))
        #expect(e.send == [Outgoing(.prepare(ballot: b2, from: 1), to: .acceptors)])
        #expect(p.mode == .candidate)
        // Phase 1 reports instance 1 (accepted by a quorum); it is proposed again in the new ballot.
        _ = p.on(Self.promise(1, b2, [Self.entry(1, b1, one.proposal)]))
        let lead = p.on(Self.promise(3, b2))
        #expect(lead.send == [Self.heartbeat(b2, 2), Self.accept(b2, [one], decided: 1)])
        // Another recover within leaderTimeoutTicks is ignored; a later one is honoured.
        #expect(p.on(.recover(learner: 2, from: 1)) == Paxos.ProposerEffects())
        _ = p.tick(now: 51)
        #expect(p.on(.recover(learner: 2, from: 1)).send == [Outgoing(.prepare(ballot: Self.ballot(3, 1), from: 1), to: .acceptors)])
        // Followers ignore recover requests.
        var follower = Proposer(id: 2, settings: Self.settings, seed: 1)
        #expect(follower.on(.recover(learner: 1, from: 1)) == Paxos.ProposerEffects())
    }

    /// Ballots arrive unauthenticated (a heartbeat from anyone, a nack naming any acceptor id): an absurd
    /// round must neither overflow the next election's round nor be adopted as the ballot to beat.
    @Test func absurdBallotRoundsAreIgnored() {
        var s = ProtocolSettings()
        s.electionBackoffTicks = 0
        var p = Paxos.Proposer(id: 2, settings: s, seed: 1)
        _ = p.on(.heartbeat(ballot: Ballot(round: .max, proposer: 1), firstUndecided: 1))
        _ = p.on(.nack(acceptor: 1, promised: Ballot(round: Ballot.maxRound + 1, proposer: 3)))
        #expect(p.knownBallot == .zero)
        for t: UInt64 in 0...100 { _ = p.tick(now: t) }
        #expect(p.mode == .candidate)
        #expect(p.ballot == Ballot(round: 1, proposer: 2))
    }

    @Test func hostileFieldsAreIgnored() {
        var p = Self.leader()
        let b = p.ballot
        _ = p.on(.submit([Self.sub(1)]))
        let one = Self.ip(1, .batch([Self.sub(1)]))
        // Votes from ids that are no acceptor never make a quorum.
        for stranger: UInt32 in [0, 4, 99, .max] {
            #expect(p.on(.accepted(acceptor: stranger, ballot: b, proposals: [one])).send.isEmpty)
            #expect(p.on(.replay(acceptor: stranger, entries: [Self.entry(1, b, one.proposal)])).send.isEmpty)
        }
        #expect(p.on(.accepted(acceptor: 1, ballot: b, proposals: [one])).send.isEmpty)
        #expect(p.firstUndecided == 1)
        // Instance 0 is nobody's.
        let zero = Self.ip(0, .noop)
        #expect(p.on(.accepted(acceptor: 2, ballot: b, proposals: [zero])).send.isEmpty)
        #expect(p.on(.accepted(acceptor: 3, ballot: b, proposals: [zero])).send.isEmpty)
        #expect(p.on(.decided([zero])).send.isEmpty)
        #expect(p.firstUndecided == 1)
        // A stranger's nack neither deposes the leader nor raises its known ballot.
        _ = p.on(.nack(acceptor: 99, promised: Self.ballot(.max, .max)))
        #expect(p.mode == .leader && p.knownBallot == b)
        // Its own heartbeat echoed back, or a round-0 heartbeat, is not another leader.
        _ = p.on(.heartbeat(ballot: Self.ballot(9, 1), firstUndecided: 1))
        _ = p.on(.heartbeat(ballot: Self.ballot(0, 7), firstUndecided: 1))
        #expect(p.knownBallot == b)
        // The honest second vote still decides.
        #expect(p.on(.accepted(acceptor: 2, ballot: b, proposals: [one])).send == [Outgoing(.chosen(ChosenRun.runs(of: [Self.sub(1).id])), to: .clients)])
    }
}

@Suite struct ProposerRecoveryTests {
    /// A long range found in phase 1 is re-proposed a window at a time, holes as no-ops, so a long
    /// range costs neither a burst of datagrams nor a hang.
    @Test func recoveryGoesOutAWindowAtATime() {
        var s = ProtocolSettings()
        s.window = 3
        s.electionBackoffTicks = 0
        var p = Paxos.Proposer(id: 1, settings: s, seed: 1)
        _ = p.tick(now: 1)
        let old = Ballot(round: 0, proposer: 0)
        let far: Instance = 1_000
        let entries = [AcceptedEntry(instance: 2, ballot: old, proposal: .noop), AcceptedEntry(instance: far, ballot: old, proposal: .noop)]
        _ = p.on(.promise(Promise(acceptor: 1, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, accepted: entries)))
        let e = p.on(.promise(Promise(acceptor: 2, ballot: p.ballot, from: 1, chunk: 0, chunkCount: 1, accepted: [])))
        #expect(p.mode == .leader)
        let proposed = e.send.flatMap { out -> [Instance] in
            if case .accept(_, let ps, _) = out.message { return ps.map(\.instance) }
            return []
        }
        #expect(proposed == [1, 2, 3])
        #expect(p.backlog >= 997)
        // Each decision lets one more through.
        let b = p.ballot
        _ = p.on(.accepted(acceptor: 1, ballot: b, proposals: [InstanceProposal(instance: 1, proposal: .noop)]))
        let next = p.on(.accepted(acceptor: 2, ballot: b, proposals: [InstanceProposal(instance: 1, proposal: .noop)]))
        let more = next.send.flatMap { out -> [Instance] in
            if case .accept(_, let ps, _) = out.message { return ps.map(\.instance) }
            return []
        }
        #expect(more == [4])
    }
}
