@testable import PaxosWire
import PaxosCore
import Testing

/// The binary wire format: exact round trips, precise errors, and a decoder that never traps.
@Suite struct WireTests {
    // MARK: fixtures

    static let maxBallot = Ballot(round: .max, proposer: .max, incarnation: .max)
    static let maxID = SubmissionID(client: .max, incarnation: .max, sequence: .max)

    static func submission(_ client: UInt32, _ incarnation: UInt64, _ sequence: UInt64, _ value: [UInt8]) -> Submission {
        Submission(id: SubmissionID(client: client, incarnation: incarnation, sequence: sequence), value: value)
    }

    /// Values that exercise the codec: non-ASCII and raw bytes, empty, and lengths on varint boundaries.
    static let oddSubmissions: [Submission] = [
        submission(.max, .max, .max, Array("héllo wörld ✓".utf8) + [0x00, 0xFF, 0x80, 0x7F]),
        submission(0, 0, 0, []),
        submission(1, 2, 3, Array(repeating: 0xAB, count: 127)),
        submission(128, 1 << 63, 16_384, Array(repeating: 0x01, count: 128)),
        submission(7, 42, 1, Array("32767\n".utf8)),
    ]

    static let noopAndBatches: [Proposal] = [.noop, .batch([]), .batch(oddSubmissions)]

    static let entries: [AcceptedEntry] = [
        AcceptedEntry(instance: 1, ballot: Ballot(round: 1, proposer: 1), proposal: .noop),
        AcceptedEntry(instance: 2, ballot: Ballot(round: 3, proposer: 2), proposal: .batch([])),
        AcceptedEntry(instance: Wire.maxInstance, ballot: maxBallot, proposal: .batch(oddSubmissions)),
    ]

    static let instanceProposals: [InstanceProposal] = [
        InstanceProposal(instance: 1, proposal: .noop),
        InstanceProposal(instance: 300, proposal: .batch([])),
        InstanceProposal(instance: Wire.maxInstance, proposal: .batch(oddSubmissions)),
    ]

    /// At least one sample of every message case, with extreme and empty fields.
    static let samples: [Message] = [
        .submit([]),
        .submit(oddSubmissions),
        .chosen([]),
        .chosen([ChosenRun(client: .max, incarnation: .max, first: .max, count: 1), ChosenRun(client: 0, incarnation: 0, first: 1, count: .max),
                 ChosenRun(client: 3, incarnation: 1 << 40, first: 9, count: 4_096)]),
        .prepare(ballot: maxBallot, from: Wire.maxInstance),
        .prepare(ballot: .zero, from: 0),
        .promise(Promise(acceptor: 1, ballot: Ballot(round: 2, proposer: 1), from: 1, chunk: 0, chunkCount: 1, accepted: [])),
        .promise(Promise(acceptor: .max, ballot: maxBallot, from: Wire.maxInstance, chunk: .max - 1, chunkCount: .max, accepted: entries)),
        .promise(Promise(acceptor: 2, ballot: Ballot(round: 9, proposer: 2, incarnation: 77), from: 0, answer: .max, chunk: 0,
                         chunkCount: 1, trimmedThrough: Wire.maxInstance, accepted: [])),
        .nack(acceptor: .max, promised: maxBallot),
        .nack(acceptor: 0, promised: .zero),
        .accept(ballot: maxBallot, proposals: instanceProposals),
        .accept(ballot: Ballot(round: 1, proposer: 1), proposals: []),
        .accept(ballot: Ballot(round: 3, proposer: 2, incarnation: 1 << 31), proposals: [InstanceProposal(instance: 5, proposal: .noop)],
                decidedThrough: Wire.maxInstance),
        .accepted(acceptor: .max, ballot: maxBallot, proposals: instanceProposals),
        .accepted(acceptor: 2, ballot: Ballot(round: 5, proposer: 3), proposals: []),
        .replay(acceptor: .max, entries: entries),
        .replay(acceptor: 1, entries: []),
        .heartbeat(ballot: maxBallot, firstUndecided: Wire.maxInstance),
        .catchUp(learner: .max, from: Wire.maxInstance, to: 0),
        .catchUp(learner: 1, from: 1, to: 513),
        .decided([]),
        .decided(instanceProposals),
        .recover(learner: .max, from: Wire.maxInstance),
        .progress(learner: 2, delivered: 0),
        .progress(learner: .max, delivered: Wire.maxInstance),
        .trimmed(acceptor: 3, through: 1_000_000),
        .recoverState(acceptor: 2, barrier: Ballot(round: 7, proposer: 0), request: 9),
        .recoverState(acceptor: .max, barrier: .zero, request: .max),
        .acceptorState(Promise(acceptor: 1, ballot: Ballot(round: 8, proposer: 0), from: 3, answer: .max, chunk: 1,
                               chunkCount: 2, trimmedThrough: 2, accepted: [AcceptedEntry(instance: 3, ballot: Ballot(round: 2, proposer: 1, incarnation: .max), proposal: .noop)]), recovering: true, request: .max),
        .acceptorState(Promise(acceptor: 3, ballot: .zero, from: 0, chunk: 0, chunkCount: 1, accepted: []), recovering: false,
                       request: 0),
        .present(acceptor: 5),
        .present(acceptor: .max, promised: Ballot(round: Ballot.maxRound, proposer: .max, incarnation: .max)),
    ]

    /// Exhaustive over `Message`, so a new case that lacks a sample fails `samplesCoverEveryCase`.
    static func typeCode(_ m: Message) -> UInt8 {
        switch m {
        case .submit: 1
        case .chosen: 2
        case .prepare: 3
        case .promise: 4
        case .nack: 5
        case .accept: 6
        case .accepted: 7
        case .replay: 8
        case .heartbeat: 9
        case .catchUp: 10
        case .decided: 11
        case .recover: 12
        case .progress: 13
        case .trimmed: 14
        case .recoverState: 15
        case .acceptorState: 16
        case .present: 17
        }
    }

    /// `"PX"`, the wire version (3), then the message type: the fixed `Wire.headerSize` bytes.
    static func prefix(_ type: UInt8) -> [UInt8] { [0x50, 0x58, 4, type] }

    /// `Wire.Header.unattributed` on the wire: acceptor-count 3, learner-count 2 (the default settings),
    /// role 4 (client), id 0, incarnation 0, started at 0.
    static let unattributedHeader: [UInt8] = [3, 2, 4, 0, 0, 0]

    /// Everything before the first field of a message encoded with `Wire.Header.unattributed`.
    static func header(_ type: UInt8) -> [UInt8] { prefix(type) + unattributedHeader }

    /// Bytes before the first field of a message encoded with `Wire.Header.unattributed`.
    static let envelope = Wire.headerSize + unattributedHeader.count

    static func varint(_ value: UInt64) -> [UInt8] {
        var w = Wire.Writer()
        w.varint(value)
        return w.bytes
    }

    static func isMalformed(_ r: Result<Message, Wire.DecodeError>) -> Bool {
        if case .failure(.malformed) = r { return true }
        return false
    }

    static func isMalformed(_ r: Result<Wire.Datagram, Wire.DecodeError>) -> Bool {
        if case .failure(.malformed) = r { return true }
        return false
    }

    /// A chosen run names at least one sequence number, from 1 on, within 64 bits: anything else is refused,
    /// so a client never computes `first + count` past the end.
    @Test func chosenRunsOutsideSequenceNumbersAreRefused() {
        func chosen(first: UInt64, count: UInt64) -> [UInt8] {
            Self.header(2) + [1, 7] + Self.varint(99) + Self.varint(first) + Self.varint(count)
        }
        #expect(Self.isMalformed(Wire.decode(chosen(first: 0, count: 1))))
        #expect(Self.isMalformed(Wire.decode(chosen(first: 5, count: 0))))
        #expect(Self.isMalformed(Wire.decode(chosen(first: 2, count: .max))))
        #expect(Self.isMalformed(Wire.decode(chosen(first: .max, count: 2))))
        #expect(Wire.decode(chosen(first: 1, count: .max)) == .success(.chosen([ChosenRun(client: 7, incarnation: 99, first: 1, count: .max)])))
        #expect(Wire.decode(chosen(first: .max, count: 1)) == .success(.chosen([ChosenRun(client: 7, incarnation: 99, first: .max, count: 1)])))
    }

    @Test func runsOfIdsJoinConsecutiveSequenceNumbersOfOneRun() {
        func id(_ c: UInt32, _ i: UInt64, _ s: UInt64) -> SubmissionID { SubmissionID(client: c, incarnation: i, sequence: s) }
        let ids = [id(1, 5, 3), id(1, 5, 4), id(1, 5, 5), id(2, 5, 6), id(1, 5, 6), id(1, 6, 7), id(1, 6, 9), id(1, 6, .max), id(1, 6, 1)]
        let runs = ChosenRun.runs(of: ids)
        #expect(runs == [ChosenRun(client: 1, incarnation: 5, first: 3, count: 3), ChosenRun(client: 2, incarnation: 5, first: 6, count: 1),
                         ChosenRun(client: 1, incarnation: 5, first: 6, count: 1), ChosenRun(client: 1, incarnation: 6, first: 7, count: 1),
                         ChosenRun(client: 1, incarnation: 6, first: 9, count: 1), ChosenRun(client: 1, incarnation: 6, first: .max, count: 1),
                         ChosenRun(client: 1, incarnation: 6, first: 1, count: 1)])
        #expect(ChosenRun.ids(of: runs) == ids)
    }

    /// Instance numbers beyond 2^62 cannot occur (a log that long would take millennia to build): they
    /// are refused when decoded, so no role ever computes with them.
    @Test func absurdInstanceNumbersAreRefused() {
        let beyond = Wire.maxInstance + 1
        let absurd: [Message] = [
            .prepare(ballot: Ballot(round: 1, proposer: 1), from: beyond),
            .accept(ballot: Ballot(round: 1, proposer: 1), proposals: [InstanceProposal(instance: .max, proposal: .noop)]),
            .accepted(acceptor: 1, ballot: Ballot(round: 1, proposer: 1), proposals: [InstanceProposal(instance: beyond, proposal: .noop)]),
            .promise(Promise(acceptor: 1, ballot: Ballot(round: 1, proposer: 1), from: 1, chunk: 0, chunkCount: 1,
                             trimmedThrough: .max, accepted: [])),
            .trimmed(acceptor: 1, through: .max),
            .progress(learner: 1, delivered: beyond),
            .catchUp(learner: 1, from: beyond, to: beyond + 5),
            .decided([InstanceProposal(instance: beyond, proposal: .noop)]),
            .recover(learner: 1, from: .max),
            .heartbeat(ballot: Ballot(round: 1, proposer: 1), firstUndecided: beyond),
        ]
        for m in absurd { #expect(Self.isMalformed(Wire.decode(Wire.encode(m))), "\(m)") }
    }

    // MARK: round trips

    @Test func samplesCoverEveryCase() {
        #expect(Set(Self.samples.map(Self.typeCode)) == Set(1...17))
        #expect(Set(Self.layouts.map { Self.typeCode($0.message) }) == Set(1...17))
    }

    @Test(arguments: samples)
    func roundTrips(_ message: Message) {
        let bytes = Wire.encode(message)
        #expect(Array(bytes.prefix(Self.envelope)) == Self.header(Self.typeCode(message)))
        #expect(message.encoded == bytes)
        #expect(Wire.encode(message, header: .unattributed) == bytes)
        #expect(Wire.decode(bytes) == .success(message))
        #expect(Wire.decodeDatagram(bytes) == .success(Wire.Datagram(header: .unattributed, message: message)))
    }

    /// One small message of every type with its fields spelled out byte by byte (after the header).
    static let layouts: [(message: Message, fields: [UInt8])] = [
        // count 1; client 1, incarnation 2, sequence 3, value length 2, "AB"
        (.submit([submission(1, 2, 3, [0x41, 0x42])]), [1, 1, 2, 3, 2, 0x41, 0x42]),
        // count 1; client 1, incarnation 300, first sequence 2, count 3
        (.chosen([ChosenRun(client: 1, incarnation: 300, first: 2, count: 3)]), [1, 1, 0xAC, 0x02, 2, 3]),
        // ballot (round 5, proposer 2, incarnation 9), from 7
        (.prepare(ballot: Ballot(round: 5, proposer: 2, incarnation: 9), from: 7), [5, 2, 9, 7]),
        // acceptor 1, ballot 2.1 incarnation 7, from 3, answer 300, chunk 0 of 1, trimmed through 2,
        // count 1; entry: instance 3, ballot 1.1 incarnation 7, noop
        (.promise(Promise(acceptor: 1, ballot: Ballot(round: 2, proposer: 1, incarnation: 7), from: 3, answer: 300, chunk: 0,
                          chunkCount: 1, trimmedThrough: 2,
                          accepted: [AcceptedEntry(instance: 3, ballot: Ballot(round: 1, proposer: 1, incarnation: 7), proposal: .noop)])),
         [1, 2, 1, 7, 3, 0xAC, 0x02, 0, 1, 2, 1, 3, 1, 1, 7, 0]),
        // acceptor 3, ballot (round 128, proposer 1, incarnation 2)
        (.nack(acceptor: 3, promised: Ballot(round: 128, proposer: 1, incarnation: 2)), [3, 0x80, 0x01, 1, 2]),
        // ballot 4.1 incarnation 6, decided through 9, count 1; instance 10, batch of 1: client 1,
        // incarnation 2, sequence 3, length 1, "A"
        (.accept(ballot: Ballot(round: 4, proposer: 1, incarnation: 6),
                 proposals: [InstanceProposal(instance: 10, proposal: .batch([submission(1, 2, 3, [0x41])]))], decidedThrough: 9),
         [4, 1, 6, 9, 1, 10, 1, 1, 1, 2, 3, 1, 0x41]),
        // acceptor 2, ballot 4.1 incarnation 6, count 1; instance 10, the digest of a noop in 8 bytes, little-endian
        (.accepted(acceptor: 2, ballot: Ballot(round: 4, proposer: 1, incarnation: 6), proposals: [InstanceProposal(instance: 10, proposal: .noop)]),
         [2, 4, 1, 6, 1, 10] + withUnsafeBytes(of: Wire.digest(of: .noop).littleEndian) { Array($0) }),
        // acceptor 2, count 1; instance 10, ballot 4.1 incarnation 6, empty batch
        (.replay(acceptor: 2, entries: [AcceptedEntry(instance: 10, ballot: Ballot(round: 4, proposer: 1, incarnation: 6), proposal: .batch([]))]),
         [2, 1, 10, 4, 1, 6, 1, 0]),
        // ballot 4.1 incarnation 6, first undecided 11
        (.heartbeat(ballot: Ballot(round: 4, proposer: 1, incarnation: 6), firstUndecided: 11), [4, 1, 6, 11]),
        // learner 1, from 5, to 200
        (.catchUp(learner: 1, from: 5, to: 200), [1, 5, 0xC8, 0x01]),
        // count 2; instance 10 noop, instance 11 noop
        (.decided([InstanceProposal(instance: 10, proposal: .noop), InstanceProposal(instance: 11, proposal: .noop)]), [2, 10, 0, 11, 0]),
        (.recover(learner: 2, from: 6), [2, 6]),
        (.progress(learner: 1, delivered: 9), [1, 9]),
        (.trimmed(acceptor: 3, through: 8), [3, 8]),
        // acceptor 2, barrier ballot (round 5, proposer 0, incarnation 0), request 300
        (.recoverState(acceptor: 2, barrier: Ballot(round: 5, proposer: 0), request: 300), [2, 5, 0, 0, 0xAC, 0x02]),
        // the promise (acceptor 2, ballot 5.0, from 0, answer 1, chunk 0 of 1, trimmed 0, no entries), then
        // the recovering flag and the request it answers
        (.acceptorState(Promise(acceptor: 2, ballot: Ballot(round: 5, proposer: 0), from: 0, answer: 1, chunk: 0, chunkCount: 1,
                                accepted: []), recovering: true, request: 7),
         [2, 5, 0, 0, 0, 1, 0, 1, 0, 0, 1, 7]),
        (.acceptorState(Promise(acceptor: 2, ballot: Ballot(round: 5, proposer: 0), from: 0, answer: 1, chunk: 0, chunkCount: 1,
                                accepted: []), recovering: false, request: 7),
         [2, 5, 0, 0, 0, 1, 0, 1, 0, 0, 0, 7]),
        // acceptor 4, promised ballot (round 2, proposer 1, incarnation 0)
        (.present(acceptor: 4, promised: Ballot(round: 2, proposer: 1)), [4, 2, 1, 0]),
    ]

    @Test func everyMessageTypeHasItsExactByteLayout() {
        for (message, fields) in Self.layouts {
            let bytes = Self.header(Self.typeCode(message)) + fields
            #expect(Wire.encode(message) == bytes, "\(message)")
            #expect(Wire.decode(bytes) == .success(message), "\(message)")
        }
    }

    /// A header of large, distinct values, spelled out.
    static let acceptorHeader = Wire.Header(
        fingerprint: ClusterFingerprint(acceptorCount: 5, learnerCount: 300),
        sender: Sender(role: .acceptor, id: 2, incarnation: 0xDEAD_BEEF, startedAt: 1_700_000_000_000))
    static let acceptorHeaderBytes: [UInt8] = [
        5,  // acceptor-count
        0xAC, 0x02,  // learner-count 300
        1,  // role: acceptor
        2,  // id
        0xEF, 0xFD, 0xB6, 0xF5, 0x0D,  // incarnation 0xDEADBEEF
        0x80, 0xD0, 0x95, 0xFF, 0xBC, 0x31,  // started at 1_700_000_000_000
    ]

    @Test func aDatagramCarriesItsHeader() {
        let message = Message.nack(acceptor: 2, promised: Ballot(round: 200, proposer: 3, incarnation: 129))
        let bytes = Wire.encode(message, header: Self.acceptorHeader)
        #expect(bytes == Self.prefix(5) + Self.acceptorHeaderBytes + [2, 0xC8, 0x01, 3, 0x81, 0x01])
        #expect(Wire.decodeDatagram(bytes) == .success(Wire.Datagram(header: Self.acceptorHeader, message: message)))
        // `decode` drops the header, keeping only the message.
        #expect(Wire.decode(bytes) == .success(message))
        #expect(bytes != Wire.encode(message))
    }

    /// Every role's byte, and extreme values of every header field, survive a round trip.
    @Test func everyHeaderRoundTrips() {
        let roleCodes: [(Role, UInt8)] = [(.acceptor, 1), (.proposer, 2), (.learner, 3), (.client, 4)]
        #expect(Set(roleCodes.map(\.0)) == Set(Role.allCases))
        let message = Message.present(acceptor: 1)
        for (role, code) in roleCodes {
            for (fingerprint, fingerprintBytes) in [(ClusterFingerprint(acceptorCount: 0, learnerCount: 0), [UInt8(0), 0]),
                                                    (ClusterFingerprint(acceptorCount: .max, learnerCount: 1),
                                                     [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1])] {
                let header = Wire.Header(fingerprint: fingerprint,
                                         sender: Sender(role: role, id: .max, incarnation: .max, startedAt: .max))
                let bytes = Wire.encode(message, header: header)
                #expect(bytes == Self.prefix(17) + fingerprintBytes + [code]
                            + [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]  // id
                            + [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]  // incarnation
                            + Self.varint(.max)  // started at
                            + [1, 0, 0, 0])  // acceptor 1, promised 0.0
                #expect(Wire.decodeDatagram(bytes) == .success(Wire.Datagram(header: header, message: message)))
            }
        }
    }

    @Test func decodesFromAnUnalignedSliceOfALargerBuffer() {
        let message = Self.samples[1]
        let bytes = [0xEE] + Wire.encode(message) + [0xEE]
        let result = bytes.withUnsafeBytes { Wire.decodeDatagram(UnsafeRawBufferPointer(rebasing: $0[1..<(bytes.count - 1)])).map(\.message) }
        #expect(result == .success(message))
    }

    // MARK: precise errors

    @Test(arguments: samples)
    func everyStrictPrefixFails(_ message: Message) {
        let bytes = Wire.encode(message)
        for length in 0..<bytes.count {
            let expected: Wire.DecodeError = length < Wire.headerSize ? .tooShort : .truncated
            #expect(Wire.decode(Array(bytes.prefix(length))) == .failure(expected), "prefix of \(length) bytes")
        }
    }

    @Test func headerErrors() {
        #expect(Wire.decode([]) == .failure(.tooShort))
        #expect(Wire.decode([0x50, 0x58, 4]) == .failure(.tooShort))
        #expect(Wire.decode([0x51, 0x58, 4, 1] + Self.unattributedHeader + [0]) == .failure(.badMagic))
        #expect(Wire.decode([0x50, 0x59, 4, 1] + Self.unattributedHeader + [0]) == .failure(.badMagic))
        // Version 1 datagrams (no header) are refused, whole or not.
        #expect(Wire.decode([0x50, 0x58, 1, 1, 0]) == .failure(.unsupportedVersion(1)))
        #expect(Wire.decode([0x50, 0x58, 1, 1] + Self.unattributedHeader + [0]) == .failure(.unsupportedVersion(1)))
        // Version 2 (2Bs with values): an older binary's datagrams are refused by their version, not misread.
        #expect(Wire.decode([0x50, 0x58, 2, 7] + Self.unattributedHeader + [2, 4, 1, 6, 1, 10, 0]) == .failure(.unsupportedVersion(2)))
        // Version 3 (chosen as ids, not runs): refused, not read as runs.
        #expect(Wire.decode([0x50, 0x58, 3, 2] + Self.unattributedHeader + [1, 1, 2, 3]) == .failure(.unsupportedVersion(3)))
        #expect(Wire.decode([0x50, 0x58, 5, 1] + Self.unattributedHeader + [0]) == .failure(.unsupportedVersion(5)))
        #expect(Wire.decode([0x50, 0x58, 0, 1, 0]) == .failure(.unsupportedVersion(0)))
        #expect(Wire.decode(Self.header(0) + [0]) == .failure(.unknownType(0)))
        #expect(Wire.decode(Self.header(18) + [0]) == .failure(.unknownType(18)))
        #expect(Wire.decode(Self.prefix(255)) == .failure(.unknownType(255)))
        // The type is checked before the header is read.
        #expect(Wire.decode(Self.prefix(18)) == .failure(.unknownType(18)))
        // A valid message with its header cut short, or missing.
        #expect(Wire.decode(Self.prefix(17)) == .failure(.truncated))
        #expect(Wire.decode(Self.prefix(17) + [3, 2, 4]) == .failure(.truncated))
        #expect(Wire.decode(Self.prefix(17) + [3, 2, 4, 0, 0]) == .failure(.truncated))
        #expect(Wire.decode(Self.header(17) + [1, 0, 0, 0]) == .success(.present(acceptor: 1)))
        // A version-1 body under a version-2 prefix: the body is read as the header, and is short.
        #expect(Wire.decode(Self.prefix(17) + [1]) == .failure(.truncated))
    }

    @Test func aDatagramWhoseRoleIsUnknownIsMalformed() {
        for role: UInt8 in [0, 5, 0x80, 255] {
            let bytes = Self.prefix(17) + [3, 2, role, 0, 0, 0] + [1]
            #expect(Self.isMalformed(Wire.decodeDatagram(bytes)), "role \(role)")
            #expect(Self.isMalformed(Wire.decode(bytes)), "role \(role)")
        }
        // The same bytes with a known role decode.
        #expect(Wire.decode(Self.prefix(17) + [3, 2, 1, 0, 0, 0] + [1, 0, 0, 0]) == .success(.present(acceptor: 1)))
    }

    @Test func headerFieldsBeyond32BitsAreMalformed() {
        let tooBig = Self.varint(UInt64(UInt32.max) + 1)
        #expect(Self.isMalformed(Wire.decode(Self.prefix(17) + tooBig + [2, 4, 0, 0, 0] + [1])))  // acceptor-count
        #expect(Self.isMalformed(Wire.decode(Self.prefix(17) + [3] + tooBig + [4, 0, 0, 0] + [1])))  // learner-count
        #expect(Self.isMalformed(Wire.decode(Self.prefix(17) + [3, 2, 4] + tooBig + [0, 0] + [1])))  // id
        #expect(Self.isMalformed(Wire.decode(Self.prefix(17) + [3, 2, 4, 0] + tooBig + [0] + [1])))  // incarnation
        // The start time is a full 64 bits; beyond it, the varint overflows.
        #expect(Wire.decodeDatagram(Self.prefix(17) + [3, 2, 4, 0, 0] + Self.varint(.max) + [1, 0, 0, 0]).map(\.header.sender.startedAt)
                    == .success(.max))
        #expect(Self.isMalformed(Wire.decode(Self.prefix(17) + [3, 2, 4, 0, 0] + Array(repeating: 0xFF, count: 9) + [0x02, 1])))
    }

    @Test(arguments: samples)
    func trailingBytesAreRefused(_ message: Message) {
        #expect(Wire.decode(Wire.encode(message) + [0]) == .failure(.trailingBytes(1)))
        #expect(Wire.decode(Wire.encode(message) + [1, 2, 3]) == .failure(.trailingBytes(3)))
    }

    @Test func aCountClaimingMoreItemsThanBytesLeftFailsWithoutAllocating() {
        // A count of 2^64-1 would trap in reserveCapacity if it were trusted.
        #expect(Wire.decode(Self.header(1) + Self.varint(.max)) == .failure(.truncated))
        #expect(Wire.decode(Self.header(2) + Self.varint(.max) + [0, 0, 0]) == .failure(.truncated))
        #expect(Wire.decode(Self.header(11) + Self.varint(1 << 40) + [1, 0]) == .failure(.truncated))
        // chosen: 4 bytes per run at least; 4 runs cannot fit in 15 bytes, 3 can.
        let run: [UInt8] = [0, 0, 1, 1]  // client 0, incarnation 0, sequence 1, one value
        #expect(Wire.decode(Self.header(2) + [4] + Array([run, run, run].joined()) + [0, 0, 1]) == .failure(.truncated))
        let one = ChosenRun(client: 0, incarnation: 0, first: 1, count: 1)
        #expect(Wire.decode(Self.header(2) + [3] + Array([run, run, run].joined())) == .success(.chosen([one, one, one])))
        // A value length beyond the datagram.
        #expect(Wire.decode(Self.header(1) + [1, 1, 1, 1] + Self.varint(1 << 50) + [0x41]) == .failure(.truncated))
        #expect(Wire.decode(Self.header(1) + [1, 1, 1, 1, 2, 0x41]) == .failure(.truncated))
    }

    @Test func varintsLongerThan64BitsAreMalformed() {
        // Ten bytes whose last one holds only the top bit: exactly UInt64.max.
        let maxVarint = Array(repeating: UInt8(0xFF), count: 9) + [0x01]
        #expect(Self.varint(.max) == maxVarint)
        #expect(Wire.decode(Self.header(5) + [1] + maxVarint + [1, 0]) == .success(.nack(acceptor: 1, promised: Ballot(round: .max, proposer: 1))))
        // Tenth byte with more than the top bit: overflow.
        #expect(Self.isMalformed(Wire.decode(Self.header(12) + [1] + Array(repeating: 0xFF, count: 9) + [0x02])))
        // Eleven bytes (ten continuation bytes, then a terminator).
        #expect(Self.isMalformed(Wire.decode(Self.header(12) + [1] + Array(repeating: 0x80, count: 10) + [0x00])))
        // An endless run of continuation bytes fails at the tenth byte, not by reading past the end.
        #expect(Self.isMalformed(Wire.decode(Self.header(12) + [1] + Array(repeating: 0xFF, count: 100))))
    }

    @Test func otherMalformedFields() {
        // An id beyond 32 bits.
        #expect(Self.isMalformed(Wire.decode(Self.header(5) + Self.varint(UInt64(UInt32.max) + 1) + [1, 1, 0])))
        #expect(Wire.decode(Self.header(5) + Self.varint(UInt64(UInt32.max)) + [1, 1, 0])
                    == .success(.nack(acceptor: .max, promised: Ballot(round: 1, proposer: 1))))
        // A ballot's incarnation beyond 32 bits.
        #expect(Self.isMalformed(Wire.decode(Self.header(5) + [1, 1, 1] + Self.varint(UInt64(UInt32.max) + 1))))
        #expect(Wire.decode(Self.header(5) + [1, 1, 1] + Self.varint(UInt64(UInt32.max)))
                    == .success(.nack(acceptor: 1, promised: Ballot(round: 1, proposer: 1, incarnation: .max))))
        // A promise chunk index not below its count (including a count of 0).
        // Fields: acceptor, ballot (round, proposer, incarnation), from, answer, chunk, count, trimmed, entries.
        #expect(Self.isMalformed(Wire.decode(Self.header(4) + [1, 1, 1, 0, 1, 0, /*chunk*/ 1, /*count*/ 1, 0, 0])))
        #expect(Self.isMalformed(Wire.decode(Self.header(4) + [1, 1, 1, 0, 1, 0, 0, 0, 0, 0])))
        #expect(Wire.decode(Self.header(4) + [1, 1, 1, 0, 1, 0, 0, 1, 0, 0])
                    == .success(.promise(Promise(acceptor: 1, ballot: Ballot(round: 1, proposer: 1), from: 1, chunk: 0, chunkCount: 1,
                                                 accepted: []))))
        // The same checks hold for the promise inside an acceptor's state.
        #expect(Self.isMalformed(Wire.decode(Self.header(16) + [1, 1, 1, 0, 1, 0, /*chunk*/ 1, /*count*/ 1, 0, 0, 0, 3])))
        // A recovering flag other than 0 and 1.
        #expect(Self.isMalformed(Wire.decode(Self.header(16) + [1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 2, 3])))
        #expect(Wire.decode(Self.header(16) + [1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 3])
                    == .success(.acceptorState(Promise(acceptor: 1, ballot: Ballot(round: 1, proposer: 1), from: 1, chunk: 0,
                                                       chunkCount: 1, accepted: []), recovering: true, request: 3)))
        // An absurd decided-through in an accept.
        #expect(Self.isMalformed(Wire.decode(Self.header(6) + [1, 1, 0] + Self.varint(Wire.maxInstance + 1) + [0])))
        // A proposal kind other than 0 (noop) and 1 (batch).
        #expect(Self.isMalformed(Wire.decode(Self.header(11) + [1, 1, 2])))
        #expect(Wire.decode(Self.header(11) + [1, 1, 0]) == .success(.decided([InstanceProposal(instance: 1, proposal: .noop)])))
    }

    // MARK: fuzzing

    /// Decodes anything without trapping; whatever it accepts survives a re-encode unchanged.
    static func checkDecodes(_ bytes: [UInt8]) -> Bool {
        guard case .success(let d) = Wire.decodeDatagram(bytes) else { return false }
        #expect(Wire.decodeDatagram(Wire.encode(d.message, header: d.header)) == .success(d))
        return true
    }

    @Test func hundredThousandRandomDatagramsNeverTrap() {
        var rng = SplitMix64(seed: 0xF0221)
        var accepted = 0
        for k in 0..<100_000 {
            let length = Int(rng.next() % 56)
            var bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Most get a valid prefix (some with a random header, most with a plausible one), so the
            // header's and the fields' decoding is what is exercised.
            if k % 4 != 0 && length >= 4 {
                bytes[0] = 0x50; bytes[1] = 0x58; bytes[2] = Wire.version
                bytes[3] = UInt8(rng.next() % 18)
            }
            if k % 4 >= 2 && length >= Self.envelope {
                bytes[4] = UInt8(rng.next() % 8); bytes[5] = UInt8(rng.next() % 8)
                bytes[6] = UInt8(1 + rng.next() % 4)
                bytes[7] = UInt8(rng.next() % 128); bytes[8] = UInt8(rng.next() % 128); bytes[9] = UInt8(rng.next() % 128)
            }
            if Self.checkDecodes(bytes) { accepted += 1 }
        }
        // Short random fields do decode sometimes, so the success path is exercised too.
        #expect(accepted > 100)
    }

    @Test func randomMutationsOfValidDatagramsNeverTrap() {
        var rng = SplitMix64(seed: 0xBAD_DA7A)
        var accepted = 0
        for k in 0..<50_000 {
            var bytes = Wire.encode(Self.samples[k % Self.samples.count], header: k % 2 == 0 ? .unattributed : Self.acceptorHeader)
            for _ in 0...(rng.next() % 4) {
                let at = Int(rng.next() % UInt64(bytes.count + 1))
                switch rng.next() % 5 {
                case 0 where at < bytes.count: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1 where at < bytes.count: bytes[at] ^= UInt8(1) << (rng.next() % 8)
                case 2 where at < bytes.count: bytes.remove(at: at)
                case 3: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                default: bytes.removeLast(min(bytes.count, Int(rng.next() % 8)))
                }
            }
            if Self.checkDecodes(bytes) { accepted += 1 }
        }
        #expect(accepted > 100)
    }

    // MARK: sizes

    @Test func sizeOfASubmissionIsItsEncodedLength() {
        for s in Self.oddSubmissions {
            // .submit is the prefix and header, a one-byte count, then the submission.
            #expect(Wire.size(of: s) == Wire.encode(.submit([s])).count - Self.envelope - 1, "\(s.id)")
        }
        let all = Self.oddSubmissions
        #expect(all.reduce(0) { $0 + Wire.size(of: $1) } == Wire.encode(.submit(all)).count - Self.envelope - 1)
    }

    @Test func sizeOfAProposalIsItsEncodedLength() {
        var many: [Submission] = []
        for k in 0..<130 { many.append(Self.submission(1, 1, UInt64(k + 1), [UInt8(k)])) }  // a two-byte count
        for p in Self.noopAndBatches + [.batch(many)] {
            let ip = InstanceProposal(instance: 1, proposal: p)
            // .decided is the prefix and header, a one-byte count, then instance (1 byte) and proposal.
            #expect(Wire.size(of: p) == Wire.encode(.decided([ip])).count - Self.envelope - 2)
            #expect(Wire.size(of: ip) == Wire.encode(.decided([ip])).count - Self.envelope - 1)
            // A batch is a kind byte followed by what .submit lists.
            #expect(Wire.size(of: .batch(p.submissions)) == Wire.encode(.submit(p.submissions)).count - Self.envelope + 1)
        }
        #expect(Wire.size(of: Proposal.noop) == 1)
        #expect(Wire.size(of: Proposal.batch([])) == 2)
    }

    @Test func sizeOfEntriesAndInstanceProposalsIsTheirEncodedLength() {
        for e in Self.entries {
            // .replay: prefix and header, acceptor (1 byte), count (1 byte), entry.
            #expect(Wire.size(of: e) == Wire.encode(.replay(acceptor: 1, entries: [e])).count - Self.envelope - 2)
        }
        for ip in Self.instanceProposals {
            let ballot = Ballot(round: 1, proposer: 1)
            // .accept: prefix and header, ballot (3 bytes), decided-through (1 byte), count (1 byte), instance proposal.
            #expect(Wire.size(of: ip) == Wire.encode(.accept(ballot: ballot, proposals: [ip])).count - Self.envelope - 5)
        }
        // An entry's ballot counts its incarnation: 0 takes one byte, UInt32.max five.
        let entry = AcceptedEntry(instance: 1, ballot: Ballot(round: 1, proposer: 1, incarnation: .max), proposal: .noop)
        #expect(Wire.size(of: entry) == 1 + (1 + 1 + 5) + 1)
        #expect(Wire.size(of: entry) == Wire.encode(.replay(acceptor: 1, entries: [entry])).count - Self.envelope - 2)
    }

    @Test(arguments: samples)
    func fixedFieldsFitTheEnvelopeAllowance(_ message: Message) {
        let items: Int
        switch message {
        case .submit(let s): items = s.reduce(0) { $0 + Wire.size(of: $1) }
        case .promise(let p), .acceptorState(let p, _, _): items = p.accepted.reduce(0) { $0 + Wire.size(of: $1) }
        case .replay(_, let e): items = e.reduce(0) { $0 + Wire.size(of: $1) }
        case .accept(_, let p, _), .decided(let p): items = p.reduce(0) { $0 + Wire.size(of: $1) }
        case .accepted(_, _, let v): items = v.reduce(0) { $0 + Wire.size(of: $1) }
        case .chosen(let runs): items = runs.reduce(0) { $0 + Wire.size(of: $1) }
        default: items = 0
        }
        #expect(Wire.encode(message).count - items <= Wire.envelopeAllowance)
        // A header as a real process sends it: a random 32-bit incarnation, a wall-clock start time.
        #expect(Wire.encode(message, header: Self.acceptorHeader).count - items <= Wire.envelopeAllowance)
    }
}
