import PaxosCore
import PaxosNode
import Testing

/// The shells' contract: within a burst, the write is durable before any message leaves or any value is
/// printed (a learner printing into a regular file prints a burst's decided values first, then persists,
/// then sends); a failed write sends nothing, and prints nothing unless the learner prints first.
final class Journal {
    enum Event: Equatable {
        case persisted(String)
        case sent(Group, String)
        case printed([UInt64])
        case flushed
    }

    var events: [Event] = []
    var failWrites = false

    var outbox: Outbox {
        Outbox(send: { [unowned self] out in self.events.append(.sent(out.group, Self.kind(out.message))) },
               flush: { [unowned self] in self.events.append(.flushed) })
    }

    static func kind(_ m: Message) -> String {
        switch m {
        case .promise: "promise"
        case .accepted: "accepted"
        case .nack: "nack"
        case .prepare: "prepare"
        case .accept: "accept"
        case .heartbeat: "heartbeat"
        case .catchUp: "catchUp"
        case .chosen: "chosen"
        case .submit: "submit"
        case .decided: "decided"
        default: "other"
        }
    }

    struct DiskFull: Error {}
}

extension Journal: AcceptorPersistence, LearnerPersistence, ProposerPersistence {
    func write(_ w: AcceptorWrite) throws {
        if failWrites { throw DiskFull() }
        events.append(.persisted("acceptor promised=\(w.promised.map { "\($0)" } ?? "-") accepted=\(w.accepted.map(\.instance))"))
    }

    func write(_ instances: [DeliveredInstance]) throws {
        if failWrites { throw DiskFull() }
        events.append(.persisted("learner \(instances.map(\.instance))"))
    }

    func write(highestRound: UInt64) throws {
        if failWrites { throw DiskFull() }
        events.append(.persisted("proposer round=\(highestRound)"))
    }
}

let ballot = Ballot(round: 1, proposer: 1)

/// Learner 1 of a three-acceptor cluster that prints first (into a regular file), into `journal`.
func printingLearner(_ journal: Journal, pacesCommits: Bool = false) -> LearnerNode {
    var settings = ProtocolSettings()
    settings.acceptorCount = 3
    return LearnerNode(learner: Paxos.Learner(id: 1, settings: settings), store: journal, outbox: journal.outbox,
                       output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) },
                       printsFirst: true, pacesCommits: pacesCommits)
}

func submission(_ seq: UInt64, _ value: String) -> Submission {
    Submission(id: SubmissionID(client: 1, incarnation: 7, sequence: seq), value: Array(value.utf8))
}

func datagram(_ m: Message) -> [UInt8] { Wire.encode(m) }

@Suite struct PersistBeforeSendTests {
    @Test func acceptorPersistsAWholeBurstOnceBeforeAnswering() throws {
        let journal = Journal()
        let node = AcceptorNode(acceptor: Paxos.Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote), store: journal,
                                outbox: journal.outbox)
        node.receive(datagram(.prepare(ballot: ballot, from: 1)))
        node.receive(datagram(.accept(ballot: ballot, proposals: [InstanceProposal(instance: 1, proposal: .batch([submission(1, "42")]))])))
        node.receive(datagram(.accept(ballot: ballot, proposals: [InstanceProposal(instance: 2, proposal: .noop)])))
        #expect(journal.events.isEmpty)  // nothing leaves before the end of the burst
        try node.endOfBurst()
        #expect(journal.events == [
            .persisted("acceptor promised=1.1 accepted=[1, 2]"),
            .sent(.proposers, "promise"), .sent(.learners, "accepted"), .flushed,  // one 2B for the burst's two 2As
        ])
        #expect(node.counters.commits == 1)
    }

    @Test func acceptorWhoseWriteFailsSendsNothing() throws {
        let journal = Journal()
        journal.failWrites = true
        let node = AcceptorNode(acceptor: Paxos.Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote), store: journal,
                                outbox: journal.outbox)
        node.receive(datagram(.prepare(ballot: ballot, from: 1)))
        #expect(throws: Journal.DiskFull.self) { try node.endOfBurst() }
        #expect(journal.events.isEmpty)
    }

    @Test func acceptorAnswersWithoutWritingWhenNothingChanges() throws {
        let journal = Journal()
        let node = AcceptorNode(acceptor: Paxos.Acceptor(id: 1, settings: ProtocolSettings(),
                                                         restoring: AcceptorDurableState(promised: Ballot(round: 5, proposer: 2))),
                                store: journal, outbox: journal.outbox)
        node.receive(datagram(.prepare(ballot: ballot, from: 1)))  // lower ballot: a nack, no write
        try node.endOfBurst()
        #expect(journal.events == [.sent(.proposers, "nack"), .flushed])
    }

    @Test func learnerPersistsThenPrintsThenSends() throws {
        let journal = Journal()
        var settings = ProtocolSettings()
        settings.acceptorCount = 3
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: settings), store: journal, outbox: journal.outbox,
                               output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) })
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5"), submission(2, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))  // a duplicate never counts twice
        try node.endOfBurst()
        #expect(journal.events.isEmpty)
        node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [p])))
        node.receive(datagram(.catchUp(learner: 2, from: 1, to: 2)))  // answered from what was delivered
        try node.endOfBurst()
        #expect(journal.events == [.persisted("learner [1]"), .printed([1, 2]), .sent(.learners, "decided"), .flushed])
        // The same request heard on the acceptors' group (requests go to both) is not answered again: a
        // learner takes only 2As there.
        node.receive(datagram(.catchUp(learner: 2, from: 1, to: 2)), from: .acceptors)
        try node.endOfBurst()
        #expect(journal.events == [.persisted("learner [1]"), .printed([1, 2]), .sent(.learners, "decided"), .flushed])
    }

    @Test func learnerWhoseWriteFailsPrintsNothing() throws {
        let journal = Journal()
        journal.failWrites = true
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal,
                               outbox: journal.outbox,
                               output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) })
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        node.receive(datagram(.accepted(acceptor: 3, ballot: ballot, proposals: [p])))
        #expect(throws: Journal.DiskFull.self) { try node.endOfBurst() }
        #expect(journal.events.isEmpty)
    }

    /// `paxos learner > file`: a decided value is printed at once (a quorum of acceptors holds it
    /// durably), then persisted, then the burst's messages leave — the progress reports that let
    /// acceptors trim name only what is durable here.
    @Test func learnerThatPrintsFirstPrintsThenPersistsThenSends() throws {
        let journal = Journal()
        let node = printingLearner(journal)
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5"), submission(2, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        try node.endOfBurst()
        #expect(journal.events.isEmpty)
        node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [p])))
        node.tick(now: 1)  // a progress report: delivered through instance 1
        try node.endOfBurst()
        #expect(journal.events.prefix(2) == [.printed([1, 2]), .persisted("learner [1]")])
        #expect(journal.events.last == .flushed && journal.events.dropFirst(2).dropLast().allSatisfy {
            if case .sent = $0 { true } else { false }
        })
    }

    /// `paxos learner > file` paces its commits: a decided value is printed at once, but persisted (and
    /// the messages that name it sent) on the learner's next tick, or at its stop: between ticks the disk is
    /// left to the acceptors, whose commits are on the way to the output.
    @Test func learnerPacingItsCommitsPrintsAtOncePersistsOnItsTickThenSends() throws {
        let journal = Journal()
        let node = printingLearner(journal, pacesCommits: true)
        #expect(node.pacesCommits)
        let p1 = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5"), submission(2, "5")]))
        let p2 = InstanceProposal(instance: 2, proposal: .batch([submission(3, "5")]))
        for p in [p1, p2] {
            node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)
            node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
            node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [p])))
            try node.endOfBurst()
        }
        // Printed burst by burst, nothing persisted or sent yet.
        #expect(journal.events == [.printed([1, 2]), .printed([3])])
        #expect(node.holdsUncommitted)
        node.tick(now: 1)
        try node.endOfBurst()
        #expect(journal.events.dropFirst(2).first == .persisted("learner [1, 2]"))
        #expect(journal.events.last == .flushed && journal.events.dropFirst(3).dropLast().allSatisfy {
            if case .sent = $0 { true } else { false }
        })
        #expect(!node.holdsUncommitted)

        // What waits at a stop is persisted by the last burst, whatever the tick.
        journal.events = []
        let p3 = InstanceProposal(instance: 3, proposal: .batch([submission(4, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p3])), from: .acceptors)
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p3])))
        node.receive(datagram(.accepted(acceptor: 3, ballot: ballot, proposals: [p3])))
        try node.endOfBurst()
        #expect(journal.events == [.printed([4])])
        try node.endOfLastBurst()
        #expect(journal.events.dropFirst().first == .persisted("learner [3]"))

        // Into a pipe (not printing first) a learner commits every burst, paced or not.
        let piped = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal, outbox: journal.outbox,
                                output: { _ in }, printsFirst: false, pacesCommits: true)
        #expect(!piped.pacesCommits)
    }

    /// Printed, then the write fails (disk full; kill -9 is the same with no error): no message leaves,
    /// so no one hears that it delivered what it did not persist.
    @Test func learnerThatPrintsFirstWhoseWriteFailsSendsNothing() throws {
        let journal = Journal()
        journal.failWrites = true
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal,
                               outbox: journal.outbox,
                               output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) },
                               printsFirst: true)
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        node.receive(datagram(.accepted(acceptor: 3, ballot: ballot, proposals: [p])))
        node.tick(now: 1)
        #expect(throws: Journal.DiskFull.self) { try node.endOfBurst() }
        #expect(journal.events == [.printed([1])])
    }

    /// Printing first, a print that fails (a full disk under the output) stops the learner before its
    /// commit: nothing persisted, nothing sent, so the next start cuts the partial line and learns the
    /// values again instead of a later burst appending to half a line. Committed first (a pipe whose
    /// reader went away), the learner goes on: the values are in its database.
    @Test(arguments: [true, false]) func learnerWhosePrintFails(printsFirst: Bool) throws {
        struct OutputFull: Error {}
        let journal = Journal()
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal,
                               outbox: journal.outbox, output: { _ in throw OutputFull() }, printsFirst: printsFirst)
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "5")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        node.receive(datagram(.accepted(acceptor: 3, ballot: ballot, proposals: [p])))
        node.tick(now: 1)
        if printsFirst {
            #expect(throws: OutputFull.self) { try node.endOfBurst() }
            #expect(journal.events.isEmpty)
        } else {
            try node.endOfBurst()
            #expect(journal.events.first == .persisted("learner [1]"))
        }
    }

    /// Restarted with values it printed before it was killed (positions 1 and 2, not in its database):
    /// they are learned again and persisted, not printed again; the next value is.
    @Test func learnerPersistsWhatItPrintedAheadWithoutPrintingIt() throws {
        let journal = Journal()
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal,
                               outbox: journal.outbox,
                               output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) },
                               printsFirst: true, printedAhead: [Array("a".utf8), Array("b".utf8)])
        #expect(node.printedAheadRemaining == 2)
        let first = InstanceProposal(instance: 1, proposal: .batch([submission(1, "a")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [first])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [first])))
        node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [first])))
        try node.endOfBurst()
        #expect(journal.events == [.persisted("learner [1]")])
        #expect(node.printedAheadRemaining == 2)
        let second = InstanceProposal(instance: 2, proposal: .batch([submission(2, "b"), submission(3, "c")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [second])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [second])))
        node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [second])))
        try node.endOfBurst()
        #expect(journal.events == [.persisted("learner [1]"), .printed([3]), .persisted("learner [2]")])
        #expect(node.printedAheadRemaining == 0)
    }

    /// What the output holds past the database is not what is learned there: not this learner's lines
    /// (or its order broke). It stops; nothing is printed or persisted.
    @Test func learnerWhosePrintedAheadDiffersStops() throws {
        let journal = Journal()
        let node = LearnerNode(learner: Paxos.Learner(id: 1, settings: ProtocolSettings()), store: journal,
                               outbox: journal.outbox,
                               output: { deliveries in journal.events.append(.printed(deliveries.map(\.position))) },
                               printsFirst: true, printedAhead: [Array("a".utf8)])
        let p = InstanceProposal(instance: 1, proposal: .batch([submission(1, "x"), submission(2, "y")]))
        node.receive(datagram(.accept(ballot: ballot, proposals: [p])), from: .acceptors)  // the leader's 2A: the values the 2Bs name by digest
        node.receive(datagram(.accepted(acceptor: 1, ballot: ballot, proposals: [p])))
        node.receive(datagram(.accepted(acceptor: 2, ballot: ballot, proposals: [p])))
        let error = #expect(throws: (any Error).self) { try node.endOfBurst() }
        #expect("\(error!)" == "the learner's output holds 'a' at position 1, but the value learned there is 'x'")
        #expect(journal.events.isEmpty)
    }

    @Test func proposerPersistsItsRoundBeforeThePrepareLeaves() throws {
        let journal = Journal()
        var settings = ProtocolSettings()
        settings.electionBackoffTicks = 0
        let node = ProposerNode(proposer: Paxos.Proposer(id: 1, settings: settings, restoring: ProposerDurableState(highestRound: 4), seed: 1),
                                store: journal, outbox: journal.outbox)
        node.tick(now: 1)
        try node.endOfBurst()
        #expect(journal.events == [.persisted("proposer round=5"), .sent(.acceptors, "prepare"), .flushed])
    }

    @Test func undecodableDatagramsAreDroppedAndCounted() throws {
        let journal = Journal()
        let node = AcceptorNode(acceptor: Paxos.Acceptor(id: 1, settings: ProtocolSettings(), blankStart: .vote), store: journal,
                                outbox: journal.outbox)
        node.receive([])
        node.receive(Array("hello, paxos".utf8))
        node.receive(Array(datagram(.prepare(ballot: ballot, from: 1)).dropLast()))
        try node.endOfBurst()
        #expect(node.counters.dropped == 3)
        #expect(node.counters.received == 0)
        #expect(journal.events.isEmpty)
    }
}
