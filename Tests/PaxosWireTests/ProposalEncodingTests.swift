
import Testing
import PaxosWire

@Suite struct ProposalEncodingTests {
    static let proposals: [Proposal] = [
        .noop,
        .batch([]),
        .batch([Submission(id: SubmissionID(client: 0, incarnation: 0, sequence: 0), value: [])]),
        .batch([
            Submission(id: SubmissionID(client: .max, incarnation: .max, sequence: .max), value: Array(repeating: 0xAB, count: 300)),
            Submission(id: SubmissionID(client: 7, incarnation: 1 << 63, sequence: 128), value: Array("ünï".utf8)),
        ]),
    ]

    @Test(arguments: proposals)
    func roundTrips(proposal: Proposal) throws {
        #expect(try Wire.decodeProposal(Wire.encode(proposal)) == proposal)
    }

    @Test func layoutIsTheDocumentedOne() {
        #expect(Wire.encode(.noop) == [0])
        let s = Submission(id: SubmissionID(client: 1, incarnation: 300, sequence: 2), value: [0x68, 0x69])
        #expect(Wire.encode(.batch([s])) == [1, 1, 1, 0xAC, 0x02, 2, 2, 0x68, 0x69])
    }

    @Test(arguments: [
        [],                               // empty
        [2],                              // unknown tag
        [0, 0],                           // trailing byte after a no-op
        [1],                              // batch without a count
        [1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],// a count far beyond the bytes left
        [1, 1, 1, 1, 1, 5, 0x41],         // value shorter than its length
        [1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0], // client id beyond 32 bits
        [1, 1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0, 0], // varint past 64 bits
    ] as [[UInt8]])
    func malformedBlobsThrow(bytes: [UInt8]) {
        #expect(throws: Wire.DecodeError.self) { try Wire.decodeProposal(bytes) }
    }

    @Test func randomBlobsNeverTrap() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias toward the batch tag so decoding goes deep.
            let blob = bytes.isEmpty ? bytes : [Bool.random(using: &rng) ? 1 : bytes[0]] + bytes.dropFirst()
            if let decoded = try? Wire.decodeProposal(blob) {
                // Whatever decodes re-encodes to something that decodes to the same proposal.
                #expect((try? Wire.decodeProposal(Wire.encode(decoded))) == decoded)
            }
        }
    }
}
