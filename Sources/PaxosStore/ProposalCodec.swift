import PaxosCore

/// The compact encoding of a ``Proposal`` in an acceptor's `accepted.proposal` column.
///
/// A tag byte — 0 for a no-op, 1 for a batch — then, for a batch, the submission count and per
/// submission: client, incarnation and sequence as unsigned LEB128 varints, then the value's length
/// and bytes. New tags can extend it later without touching rows already written.
///
/// Decoding never traps: a corrupt or tampered blob throws, and a count is checked against the bytes
/// left before anything is allocated.
enum ProposalCodec {
    static let noopTag: UInt8 = 0
    static let batchTag: UInt8 = 1

    struct DecodeError: Error, CustomStringConvertible {
        let description: String
    }

    static func encode(_ proposal: Proposal) -> [UInt8] {
        var bytes: [UInt8] = []
        switch proposal {
        case .noop:
            bytes.append(noopTag)
        case .batch(let submissions):
            bytes.reserveCapacity(3 + submissions.reduce(0) { $0 + 16 + $1.value.count })
            bytes.append(batchTag)
            appendVarint(UInt64(submissions.count), to: &bytes)
            for s in submissions {
                appendVarint(UInt64(s.id.client), to: &bytes)
                appendVarint(s.id.incarnation, to: &bytes)
                appendVarint(s.id.sequence, to: &bytes)
                appendVarint(UInt64(s.value.count), to: &bytes)
                bytes.append(contentsOf: s.value)
            }
        }
        return bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(DecodeError) -> Proposal {
        var reader = Reader(bytes: bytes)
        let proposal: Proposal
        switch try reader.byte() {
        case noopTag:
            proposal = .noop
        case batchTag:
            // The smallest submission is four one-byte varints and an empty value.
            let count = try reader.count(minimumItemSize: 4)
            var submissions: [Submission] = []
            submissions.reserveCapacity(count)
            for _ in 0..<count {
                let client = try reader.varint()
                guard let client = UInt32(exactly: client) else { throw DecodeError(description: "client id \(client) beyond 32 bits") }
                let id = SubmissionID(client: client, incarnation: try reader.varint(), sequence: try reader.varint())
                let length = try reader.count(minimumItemSize: 1)
                submissions.append(Submission(id: id, value: reader.take(length)))
            }
            proposal = .batch(submissions)
        case let tag:
            throw DecodeError(description: "unknown proposal tag \(tag)")
        }
        guard reader.remaining == 0 else { throw DecodeError(description: "\(reader.remaining) bytes after the proposal") }
        return proposal
    }

    static func decode(_ bytes: [UInt8]) throws(DecodeError) -> Proposal {
        // withUnsafeBytes is rethrows, which erases typed throws; carry the result out instead.
        let result: Result<Proposal, DecodeError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(DecodeError) -> Proposal in try decode(buffer) }
        }
        return try result.get()
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        var remaining: Int { bytes.count - offset }

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard offset < bytes.count else { throw DecodeError(description: "truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() throws(DecodeError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let b = try byte()
                // The tenth byte may only carry the 64th bit.
                if shift == 63 && b > 1 { throw DecodeError(description: "varint overflows 64 bits") }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
            }
        }

        /// A count or length, refused when the bytes left could not hold that many items.
        mutating func count(minimumItemSize: Int) throws(DecodeError) -> Int {
            let n = try varint()
            guard n <= UInt64(remaining / minimumItemSize) else { throw DecodeError(description: "truncated") }
            return Int(n)
        }

        /// `length` bytes, already checked by `count` to be there.
        mutating func take(_ length: Int) -> [UInt8] {
            defer { offset += length }
            return [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]))
        }
    }
}
