@testable import PaxosCore
import Testing

/// The client: numbering, windowed and packed submission, resubmission, and completion.
@Suite struct ClientTests {
    typealias Client = Paxos.Client

    static var settings: ProtocolSettings {
        var s = ProtocolSettings()
        s.clientWindow = 3
        s.maxBatchBytes = 40  // two 14-byte submissions per datagram
        s.clientRetryTicks = 50
        return s
    }

    static let incarnation: UInt64 = 99

    /// A ten-byte value, so each submission of client 1 encodes to 14 bytes.
    static func value(_ k: Int) -> [UInt8] {
        let text = Array("v\(k)".utf8)
        return text + Array(repeating: 0x2E, count: 10 - text.count)
    }

    static func sub(_ sequence: UInt64) -> Submission {
        Submission(id: id(sequence), value: value(Int(sequence)))
    }

    static func id(_ sequence: UInt64) -> SubmissionID {
        SubmissionID(client: 1, incarnation: incarnation, sequence: sequence)
    }

    static func submit(_ sequences: UInt64...) -> Outgoing {
        Outgoing(.submit(sequences.map(sub)), to: .proposers)
    }

    static func client(settings: ProtocolSettings = settings) -> Client {
        Client(id: 1, incarnation: incarnation, settings: settings)
    }

    @Test func submissionFixtureIsFourteenBytes() {
        #expect(Wire.size(of: Self.sub(1)) == 14)
    }

    @Test func submitsUpToTheWindowPackedWithinMaxBatchBytes() {
        var c = Self.client()
        let e = c.submit((1...5).map(Self.value))
        #expect(e.send == [Self.submit(1, 2), Self.submit(3)])
        #expect(c.undecided == 5)
        #expect(!c.isDone)
    }

    @Test func datagramsAlsoStayWithinTheDatagramBudget() {
        var s = Self.settings
        s.maxBatchBytes = 8_000
        s.maxDatagramBytes = 100  // a 64-byte payload budget: four submissions
        s.clientWindow = 10
        var c = Self.client(settings: s)
        let e = c.submit((1...10).map(Self.value))
        #expect(e.send == [Self.submit(1, 2, 3, 4), Self.submit(5, 6, 7, 8), Self.submit(9, 10)])
        for o in e.send { #expect(Wire.encode(o.message).count <= s.maxDatagramBytes) }
    }

    @Test func aValueLargerThanABatchTravelsAlone() {
        var c = Self.client()
        let big = Array(repeating: UInt8(0x61), count: 100)
        let e = c.submit([Self.value(1), big, Self.value(3)])
        #expect(e.send == [Self.submit(1), Outgoing(.submit([Submission(id: Self.id(2), value: big)]), to: .proposers), Self.submit(3)])
    }

    @Test func sequencesCountFromOneAcrossCalls() {
        var c = Self.client()
        #expect(c.submit([Self.value(1)]).send == [Self.submit(1)])
        #expect(c.submit([Self.value(2)]).send == [Self.submit(2)])
        #expect(c.submit([]).send.isEmpty)
    }

    @Test func outstandingValuesAreResubmittedAfterClientRetryTicks() {
        var c = Self.client()
        _ = c.submit((1...5).map(Self.value))
        for t: UInt64 in 1...49 { #expect(c.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(c.tick(now: 50).send == [Self.submit(1, 2), Self.submit(3)])
        for t: UInt64 in 51...99 { #expect(c.tick(now: t).send.isEmpty, "tick \(t)") }
        #expect(c.tick(now: 100).send == [Self.submit(1, 2), Self.submit(3)])
    }

    @Test func chosenForItsOwnRunRemovesThemAndRefillsTheWindow() {
        var c = Self.client()
        _ = c.submit((1...5).map(Self.value))
        let e = c.on(.chosen(ChosenRun.runs(of: [Self.id(1), Self.id(3)])))
        #expect(e.send == [Self.submit(4, 5)])
        #expect(c.decidedCount == 2)
        #expect(c.undecided == 3)
        // Only what is still outstanding is resubmitted, in sequence order.
        #expect(c.tick(now: 50).send == [Self.submit(2, 4), Self.submit(5)])
        // A repeated chosen counts once.
        #expect(c.on(.chosen(ChosenRun.runs(of: [Self.id(1), Self.id(3)]))).send.isEmpty)
        #expect(c.decidedCount == 2)
    }

    @Test func chosenForAnotherIncarnationOrClientIsIgnored() {
        var c = Self.client()
        _ = c.submit((1...3).map(Self.value))
        let others = [SubmissionID(client: 1, incarnation: Self.incarnation - 1, sequence: 1),
                      SubmissionID(client: 2, incarnation: Self.incarnation, sequence: 2),
                      Self.id(0), Self.id(4)]
        #expect(c.on(.chosen(ChosenRun.runs(of: others))).send.isEmpty)
        #expect(c.decidedCount == 0)
        #expect(c.undecided == 3)
        #expect(c.tick(now: 50).send == [Self.submit(1, 2), Self.submit(3)])
    }

    /// A run's bounds come off the wire: one naming every sequence number decides only what was sent, each
    /// value once, and reports which (the library's client answers its submitters with them).
    @Test func aRunReachingPastWhatWasSentDecidesOnlyWhatWasSentOnce() {
        var c = Self.client()
        c.closeInput()
        #expect(Self.sequences(c.submit((1...5).map(Self.value))) == [1, 2, 3])
        let everything = Message.chosen([ChosenRun(client: 1, incarnation: Self.incarnation, first: 2, count: .max - 1)])
        let e = c.on(everything)
        #expect(e.decided == [2, 3])
        #expect(Self.sequences(e) == [4, 5])
        #expect(c.on(everything).decided == [4, 5])
        #expect(c.on(everything).decided.isEmpty)
        #expect(c.decidedCount == 4 && c.undecided == 1)
        // Only the value not decided is resubmitted.
        #expect(Self.sequences(c.tick(now: 50)) == [1])
        #expect(c.on(.chosen([ChosenRun(client: 1, incarnation: Self.incarnation, first: 1, count: 1)])).decided == [1])
        #expect(c.isDone)
    }

    @Test func otherMessagesAreIgnored() {
        var c = Self.client()
        _ = c.submit([Self.value(1)])
        let before = c
        for m: Message in [.submit([Self.sub(1)]), .decided([]), .heartbeat(ballot: Ballot(round: 1, proposer: 1), firstUndecided: 1),
                           .recover(learner: 1, from: 1)] {
            #expect(c.on(m) == Paxos.ClientEffects())
        }
        #expect(c == before)
    }

    @Test func doneOnlyAfterInputClosedAndEverythingDecided() {
        var c = Self.client()
        #expect(!c.isDone)
        _ = c.submit((1...4).map(Self.value))
        _ = c.on(.chosen(ChosenRun.runs(of: [1, 2, 3].map(Self.id))))
        #expect(!c.isDone)
        c.closeInput()
        #expect(!c.isDone)  // value 4 is outstanding
        _ = c.on(.chosen(ChosenRun.runs(of: [Self.id(4)])))
        #expect(c.isDone)
        #expect(c.decidedCount == 4 && c.undecided == 0)
        // All decided but input open: not done.
        var open = Self.client()
        _ = open.submit([Self.value(1)])
        _ = open.on(.chosen(ChosenRun.runs(of: [Self.id(1)])))
        #expect(!open.isDone)
        // Nothing read and input closed: done at once.
        var empty = Self.client()
        empty.closeInput()
        #expect(empty.isDone)
    }

    @Test func queuedValuesBeyondTheWindowAreNotDoneEither() {
        var c = Self.client()
        _ = c.submit((1...5).map(Self.value))
        c.closeInput()
        _ = c.on(.chosen(ChosenRun.runs(of: [1, 2, 3].map(Self.id))))  // 4 and 5 are now outstanding
        #expect(!c.isDone)
        _ = c.on(.chosen(ChosenRun.runs(of: [Self.id(4), Self.id(5)])))
        #expect(c.isDone)
    }

    /// With big values the window is bounded in bytes too: 25 bytes allow two ten-byte values, and a
    /// value larger than the whole byte window still goes out alone.
    static func sequences(_ e: Paxos.ClientEffects) -> [UInt64] {
        e.send.flatMap { out -> [UInt64] in
            guard case .submit(let s) = out.message else { return [] }
            return s.map(\.id.sequence)
        }
    }

    @Test func theWindowIsBoundedInBytesAndAnyValueFitsAlone() {
        var settings = Self.settings
        settings.clientWindow = 100
        settings.clientWindowBytes = 25
        var c = Self.client(settings: settings)
        let e = c.submit((1...5).map(Self.value))
        #expect(Self.sequences(e) == [1, 2])
        let next = c.on(.chosen(ChosenRun.runs(of: [Self.id(1)])))
        #expect(Self.sequences(next) == [3])
        var big = Self.client(settings: settings)
        let alone = big.submit([[UInt8](repeating: 1, count: 1_000), Self.value(2)])
        #expect(Self.sequences(alone) == [1])
    }
}
