@testable import PaxosCore
import Testing

/// The acceptor: one promise for all instances, the last accepted value per instance, and exactly what
/// it must persist before each answer.
@Suite struct AcceptorTests {
    typealias Acceptor = Paxos.Acceptor

    static func ballot(_ round: UInt64, _ proposer: UInt32) -> Ballot { Ballot(round: round, proposer: proposer) }

    static func value(_ sequence: UInt64, _ text: String) -> Proposal {
        .batch([Submission(id: SubmissionID(client: 1, incarnation: 9, sequence: sequence), value: Array(text.utf8))])
    }

    static func entry(_ instance: Instance, _ b: Ballot, _ p: Proposal) -> AcceptedEntry {
        AcceptedEntry(instance: instance, ballot: b, proposal: p)
    }

    /// Answer labels are random: tests compare answers with the label cleared.
    static func unlabelled(_ sends: [Outgoing]) -> [Outgoing] {
        sends.map { out in
            guard case .promise(var p) = out.message else { return out }
            p.answer = 0
            return Outgoing(.promise(p), to: out.group)
        }
    }

    static func promise(_ acceptor: UInt32, _ b: Ballot, from: Instance, _ accepted: [AcceptedEntry],
                        chunk: UInt32 = 0, of count: UInt32 = 1) -> Outgoing {
        Outgoing(.promise(Promise(acceptor: acceptor, ballot: b, from: from, chunk: chunk, chunkCount: count,
                                  accepted: accepted)), to: .proposers)
    }

    /// Acceptor 2, promised 1.1, with values accepted in instances 1–3.
    static func seasoned(settings: ProtocolSettings = ProtocolSettings()) -> Acceptor {
        let b = ballot(1, 1)
        return Acceptor(id: 2, settings: settings, restoring: AcceptorDurableState(
            promised: b, accepted: [entry(1, b, value(1, "a")), entry(2, b, .noop), entry(3, b, value(3, "c"))]))
    }

    // MARK: phase 1

    @Test func aHigherPrepareIsPersistedThenPromisedWithEntriesFromItsStart() {
        var a = Self.seasoned()
        let b = Self.ballot(2, 2)
        let e = a.on(.prepare(ballot: b, from: 2))
        #expect(e.persist == AcceptorWrite(promised: b))
        #expect(Self.unlabelled(e.send) == [Self.promise(2, b, from: 2, [Self.entry(2, Self.ballot(1, 1), .noop),
                                                        Self.entry(3, Self.ballot(1, 1), Self.value(3, "c"))])])
        #expect(a.promised == b)
    }

    @Test func aFreshAcceptorPromisesWithAnEmptyList() {
        var a = Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote)
        let e = a.on(.prepare(ballot: Self.ballot(1, 1), from: 1))
        #expect(e.persist == AcceptorWrite(promised: Self.ballot(1, 1)))
        #expect(Self.unlabelled(e.send) == [Self.promise(1, Self.ballot(1, 1), from: 1, [])])
    }

    @Test func aLowerPrepareIsNackedWithThePromiseAndPersistsNothing() {
        var a = Self.seasoned()
        _ = a.on(.prepare(ballot: Self.ballot(5, 2), from: 1))
        let before = a
        for lower in [Self.ballot(5, 1), Self.ballot(4, 3), Self.ballot(1, 1)] {
            let e = a.on(.prepare(ballot: lower, from: 1))
            #expect(e.persist.isEmpty)
            #expect(e.send == [Outgoing(.nack(acceptor: 2, promised: Self.ballot(5, 2)), to: .proposers)])
        }
        #expect(a == before)
    }

    @Test func anEqualPrepareIsARetransmissionAnsweredWithoutANewWrite() {
        var a = Self.seasoned()
        let b = Self.ballot(3, 1)
        let first = a.on(.prepare(ballot: b, from: 1))
        let again = a.on(.prepare(ballot: b, from: 1))
        #expect(!first.persist.isEmpty)
        #expect(again.persist.isEmpty)
        // Answered again from the state as it is now, under a new answer label.
        #expect(Self.unlabelled(again.send) == Self.unlabelled(first.send))
        #expect(again.send.count == 1)
    }

    @Test func promisesAreChunkedToFitTinyDatagrams() {
        var settings = ProtocolSettings()
        settings.maxDatagramBytes = 100  // the payload budget's floor: 64 bytes
        let b = Self.ballot(1, 1)
        let stored = (1...25).map { Self.entry(Instance($0), b, Self.value(UInt64($0), String(repeating: "x", count: 20))) }
        var a = Acceptor(id: 3, settings: settings, restoring: AcceptorDurableState(promised: b, accepted: stored.reversed()))
        let e = a.on(.prepare(ballot: Self.ballot(2, 2), from: 4))

        var chunks: [Promise] = []
        for o in e.send {
            #expect(o.group == .proposers)
            guard case .promise(let p) = o.message else { Issue.record("not a promise: \(o)"); continue }
            chunks.append(p)
        }
        #expect(chunks.count > 1)
        #expect(chunks.map(\.chunk) == (0..<UInt32(chunks.count)).map { $0 })
        #expect(chunks.allSatisfy { $0.chunkCount == UInt32(chunks.count) })
        #expect(chunks.allSatisfy { $0.acceptor == 3 && $0.ballot == Self.ballot(2, 2) && $0.from == 4 && !$0.accepted.isEmpty })
        // Every entry from instance 4 on exactly once, in instance order.
        #expect(chunks.flatMap(\.accepted) == Array(stored[3...]))
        // Each chunk within the payload budget, each datagram within the configured size.
        for p in chunks {
            #expect(p.accepted.reduce(0) { $0 + Wire.size(of: $1) } <= settings.datagramPayloadBudget)
            #expect(Wire.encode(.promise(p)).count <= settings.maxDatagramBytes)
        }
    }

    @Test func invalidBallotsAreIgnored() {
        var a = Self.seasoned()
        let before = a
        for bad in [Self.ballot(0, 1), Self.ballot(7, 0), Ballot.zero, Self.ballot(Ballot.maxRound + 1, 1), Self.ballot(.max, 2)] {
            #expect(a.on(.prepare(ballot: bad, from: 1)) == Paxos.AcceptorEffects())
            #expect(a.on(.accept(ballot: bad, proposals: [InstanceProposal(instance: 9, proposal: .noop)])) == Paxos.AcceptorEffects())
        }
        #expect(a == before)
    }

    @Test func aRoundFarBeyondThePromiseIsNotPromisedButAnswered() {
        var a = Paxos.Acceptor(id: 1, settings: ProtocolSettings(),
                               restoring: AcceptorDurableState(promised: Ballot(round: 7, proposer: 1)))
        let forged = Ballot(round: 7 + Ballot.maxRoundJump + 1, proposer: 999)
        let e = a.on(.prepare(ballot: forged, from: 1))
        #expect(e.persist.isEmpty)
        // A nack saying where it stands, so a proposer lifted by forged ballots can come back down.
        #expect(e.send == [Outgoing(.nack(acceptor: 1, promised: Ballot(round: 7, proposer: 1)), to: .proposers)])
        #expect(a.promised == Ballot(round: 7, proposer: 1))
        // The next real round is taken.
        #expect(a.on(.prepare(ballot: Ballot(round: 8, proposer: 2), from: 1)).persist.promised == Ballot(round: 8, proposer: 2))
    }

    @Test func messagesForOtherRolesAreIgnored() {
        var a = Self.seasoned()
        let before = a
        let others: [Message] = [
            .submit([]), .chosen([]), .nack(acceptor: 1, promised: Self.ballot(9, 9)),
            .accepted(acceptor: 1, ballot: Self.ballot(9, 9), proposals: [InstanceProposal(instance: 1, proposal: .noop)]),
            .heartbeat(ballot: Self.ballot(9, 9), firstUndecided: 1), .decided([]), .recover(learner: 1, from: 1),
            .promise(Promise(acceptor: 1, ballot: Self.ballot(9, 9), from: 1, chunk: 0, chunkCount: 1, accepted: [])),
            .replay(acceptor: 1, entries: []),
        ]
        for m in others { #expect(a.on(m) == Paxos.AcceptorEffects()) }
        #expect(a == before)
    }

    // MARK: phase 2

    @Test func anAcceptAtThePromisedBallotIsPersistedThenAnnouncedToLearners() {
        var a = Self.seasoned()
        let b = Self.ballot(1, 1)
        let proposals = [InstanceProposal(instance: 4, proposal: Self.value(4, "d")),
                         InstanceProposal(instance: 2, proposal: Self.value(2, "b"))]
        let e = a.on(.accept(ballot: b, proposals: proposals))
        #expect(e.persist == AcceptorWrite(promised: nil, accepted: [Self.entry(4, b, Self.value(4, "d")),
                                                                     Self.entry(2, b, Self.value(2, "b"))]))
        #expect(e.send == [Outgoing(.accepted(acceptor: 2, ballot: b, proposals: proposals), to: .learners)])
        #expect(a.accepted[2] == Self.entry(2, b, Self.value(2, "b")))
    }

    @Test func anAcceptAboveThePromiseRaisesItToo() {
        var a = Self.seasoned()
        let b = Self.ballot(4, 3)
        let proposals = [InstanceProposal(instance: 1, proposal: .noop)]
        let e = a.on(.accept(ballot: b, proposals: proposals))
        #expect(e.persist == AcceptorWrite(promised: b, accepted: [Self.entry(1, b, .noop)]))
        #expect(e.send == [Outgoing(.accepted(acceptor: 2, ballot: b, proposals: proposals), to: .learners)])
        #expect(a.promised == b)
        // The raised promise refuses what is now lower.
        #expect(a.on(.prepare(ballot: Self.ballot(4, 2), from: 1)).send
                    == [Outgoing(.nack(acceptor: 2, promised: b), to: .proposers)])
    }

    @Test func anAcceptBelowThePromiseIsNacked() {
        var a = Self.seasoned()
        _ = a.on(.prepare(ballot: Self.ballot(3, 3), from: 1))
        let before = a
        let e = a.on(.accept(ballot: Self.ballot(2, 9), proposals: [InstanceProposal(instance: 7, proposal: .noop)]))
        #expect(e.persist.isEmpty)
        #expect(e.send == [Outgoing(.nack(acceptor: 2, promised: Self.ballot(3, 3)), to: .proposers)])
        #expect(a == before)
    }

    @Test func aRetransmittedAcceptPersistsNothingButIsAnnouncedAgain() {
        var a = Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote)
        let b = Self.ballot(1, 1)
        let m = Message.accept(ballot: b, proposals: [InstanceProposal(instance: 1, proposal: Self.value(1, "a"))])
        let first = a.on(m)
        let again = a.on(m)
        #expect(first.persist == AcceptorWrite(promised: b, accepted: [Self.entry(1, b, Self.value(1, "a"))]))
        #expect(again.persist.isEmpty)
        #expect(again.send == first.send)
    }

    @Test func aLaterBallotReplacesTheAcceptedValue() {
        var a = Self.seasoned()
        let b = Self.ballot(2, 1)
        let e = a.on(.accept(ballot: b, proposals: [InstanceProposal(instance: 1, proposal: .noop)]))
        #expect(e.persist.accepted == [Self.entry(1, b, .noop)])
        #expect(a.durableState.accepted.first == Self.entry(1, b, .noop))
        #expect(a.durableState.accepted.count == 3)
    }

    @Test func instanceZeroIsSkippedAndAnAllZeroAcceptSendsNoTwoB() {
        var a = Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote)
        let b = Self.ballot(1, 1)
        let e = a.on(.accept(ballot: b, proposals: [InstanceProposal(instance: 0, proposal: .noop),
                                                    InstanceProposal(instance: 5, proposal: .noop)]))
        #expect(e.persist.accepted == [Self.entry(5, b, .noop)])
        #expect(e.send == [Outgoing(.accepted(acceptor: 1, ballot: b, proposals: [InstanceProposal(instance: 5, proposal: .noop)]),
                                    to: .learners)])
        let zero = a.on(.accept(ballot: b, proposals: [InstanceProposal(instance: 0, proposal: .noop)]))
        #expect(zero.send.isEmpty && zero.persist.isEmpty)
        #expect(a.on(.accept(ballot: b, proposals: [])) == Paxos.AcceptorEffects())
    }

    // MARK: catch-up

    @Test func catchUpIsAnsweredWithAReplayBoundedByTheChunk() {
        var settings = ProtocolSettings()
        settings.catchUpChunk = 4
        let b = Self.ballot(1, 1)
        let stored = (1...10).map { Self.entry(Instance($0), b, Self.value(UInt64($0), "v\($0)")) }
        var a = Acceptor(id: 3, settings: settings, restoring: AcceptorDurableState(promised: b, accepted: stored))
        // [2, 100) is cut to [2, 6).
        #expect(a.on(.catchUp(learner: 7, from: 2, to: 100)).send
                    == [Outgoing(.replay(acceptor: 3, entries: Array(stored[1..<5])), to: .learners)])
        // [3, 5) is within the chunk.
        #expect(a.on(.catchUp(learner: 7, from: 3, to: 5)).send
                    == [Outgoing(.replay(acceptor: 3, entries: Array(stored[2..<4])), to: .learners)])
        // Nothing accepted there: no message at all. Empty or reversed ranges: nothing either.
        #expect(a.on(.catchUp(learner: 7, from: 11, to: 20)).send.isEmpty)
        #expect(a.on(.catchUp(learner: 7, from: 5, to: 5)).send.isEmpty)
        #expect(a.on(.catchUp(learner: 7, from: 6, to: 2)).send.isEmpty)
        #expect(a.on(.catchUp(learner: 7, from: 0, to: 5)).send.isEmpty)
        // Serving changes nothing durable.
        #expect(a.on(.catchUp(learner: 7, from: 1, to: 2)).persist.isEmpty)
    }

    @Test func catchUpOverASparseLogReplaysOnlyWhatExistsInOrder() {
        let b = Self.ballot(1, 1)
        let stored = [Self.entry(900, b, .noop), Self.entry(3, b, Self.value(3, "c")), Self.entry(40, b, .noop)]
        var a = Acceptor(id: 1, settings: ProtocolSettings(), restoring: AcceptorDurableState(promised: b, accepted: stored))
        #expect(a.on(.catchUp(learner: 1, from: 1, to: 513)).send
                    == [Outgoing(.replay(acceptor: 1, entries: [stored[1], stored[2]]), to: .learners)])
    }

    @Test func catchUpReplaysAreChunkedToFitDatagrams() {
        var settings = ProtocolSettings()
        settings.maxDatagramBytes = 100
        let b = Self.ballot(1, 1)
        let stored = (1...20).map { Self.entry(Instance($0), b, Self.value(UInt64($0), String(repeating: "y", count: 30))) }
        var a = Acceptor(id: 1, settings: settings, restoring: AcceptorDurableState(promised: b, accepted: stored))
        let e = a.on(.catchUp(learner: 1, from: 1, to: 100))
        #expect(e.send.count > 1)
        var replayed: [AcceptedEntry] = []
        for o in e.send {
            guard case .replay(1, let entries) = o.message, o.group == .learners else { Issue.record("\(o)"); continue }
            replayed += entries
        }
        #expect(replayed == stored)
    }

    // MARK: restart

    @Test func rebuildingFromDurableStateBehavesIdentically() {
        var settings = ProtocolSettings()
        settings.maxDatagramBytes = 100
        var a = Acceptor(id: 2, settings: settings, blankStart: .vote)
        var disk = AcceptorDurableState()
        func apply(_ w: AcceptorWrite) {
            if let p = w.promised { disk.promised = p }
            for e in w.accepted {
                disk.accepted.removeAll { $0.instance == e.instance }
                disk.accepted.append(e)
            }
        }
        let history: [Message] = [
            .prepare(ballot: Self.ballot(1, 1), from: 1),
            .accept(ballot: Self.ballot(1, 1), proposals: (1...6).map { InstanceProposal(instance: $0, proposal: Self.value($0, "v")) }),
            .prepare(ballot: Self.ballot(2, 2), from: 3),
            .accept(ballot: Self.ballot(2, 2), proposals: [InstanceProposal(instance: 3, proposal: .noop)]),
            .accept(ballot: Self.ballot(1, 1), proposals: [InstanceProposal(instance: 7, proposal: .noop)]),
        ]
        for m in history { apply(a.on(m).persist) }
        let rebuilt = Acceptor(id: 2, settings: settings, restoring: disk, blankStart: .vote)
        // Equal but for the random answer labels, which are not state.
        #expect(rebuilt.durableState == a.durableState)

        let probes: [Message] = [
            .prepare(ballot: Self.ballot(2, 2), from: 1),
            .prepare(ballot: Self.ballot(1, 3), from: 1),
            .accept(ballot: Self.ballot(1, 1), proposals: [InstanceProposal(instance: 8, proposal: .noop)]),
            .catchUp(learner: 1, from: 1, to: 10),
            .prepare(ballot: Self.ballot(3, 1), from: 2),
            .accept(ballot: Self.ballot(3, 1), proposals: [InstanceProposal(instance: 2, proposal: .noop)]),
        ]
        var original = a
        var copy = rebuilt
        for m in probes {
            let (x, y) = (original.on(m), copy.on(m))
            #expect(x.persist == y.persist && Self.unlabelled(x.send) == Self.unlabelled(y.send), "\(m)")
        }
        #expect(original.durableState == copy.durableState)
    }
}
