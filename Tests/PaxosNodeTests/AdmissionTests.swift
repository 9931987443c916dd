import PaxosCore
import PaxosNode
import Testing

/// The shell's side of admission: a datagram from another cluster configuration is dropped, counted
/// and reported once per sender; a newer process with this node's role and id makes it stop.
@Suite struct AdmissionTests {
    final class Notices: @unchecked Sendable {
        var all: [NodeNotice] = []
    }

    static let me = Sender(role: .acceptor, id: 1, incarnation: 5, startedAt: 100)

    static func node(acceptorCount: Int, notices: Notices, journal: Journal) -> AcceptorNode {
        var settings = ProtocolSettings()
        settings.acceptorCount = acceptorCount
        return AcceptorNode(acceptor: Paxos.Acceptor(id: 1, settings: settings, blankStart: .vote), store: journal,
                            outbox: journal.outbox,
                            admission: Paxos.Admission(me: me, fingerprint: settings.fingerprint),
                            notify: { notices.all.append($0) })
    }

    @Test func anotherFingerprintIsDroppedCountedAndReportedOncePerSender() throws {
        let notices = Notices()
        let journal = Journal()
        let node = Self.node(acceptorCount: 5, notices: notices, journal: journal)
        let proposer = Sender(role: .proposer, id: 1, incarnation: 9, startedAt: 50)
        let three = Wire.Header(fingerprint: ProtocolSettings().fingerprint, sender: proposer)
        for _ in 0..<3 { node.receive(Wire.encode(.prepare(ballot: ballot, from: 1), header: three)) }
        try node.endOfBurst()
        #expect(node.counters.foreign == 3 && node.counters.received == 0)
        #expect(journal.events.isEmpty, "a foreign prepare was answered")
        var five = ProtocolSettings()
        five.acceptorCount = 5
        #expect(notices.all == [.foreignCluster(sender: proposer, theirs: ProtocolSettings().fingerprint, ours: five.fingerprint)])
    }

    @Test func aNewerProcessWithThisIdMakesTheNodeStop() throws {
        let notices = Notices()
        let journal = Journal()
        let node = Self.node(acceptorCount: 3, notices: notices, journal: journal)
        let older = Sender(role: .acceptor, id: 1, incarnation: 3, startedAt: 10)
        node.receive(Wire.encode(.present(acceptor: 1), header: Wire.Header(fingerprint: ProtocolSettings().fingerprint, sender: older)))
        try node.endOfBurst()  // an older twin (or an old datagram replayed): warn, carry on
        #expect(node.counters.twin == 1)
        let newer = Sender(role: .acceptor, id: 1, incarnation: 4, startedAt: 200)
        node.receive(Wire.encode(.present(acceptor: 1), header: Wire.Header(fingerprint: ProtocolSettings().fingerprint, sender: newer)))
        #expect(throws: Displaced.self) { try node.endOfBurst() }
        #expect(notices.all == [.olderTwin(older), .displaced(by: newer)])
    }
}
