/// Messages larger than one datagram travel as fragments.
///
/// An encoded message (a whole datagram as ``Wire/encode(_:header:)`` wrote it) that is longer than the
/// sender's datagram limit is cut into pieces, each sent in a fragment datagram: `"PX"`, the version,
/// type 18, the sender's header, then the message's digest, the piece's index, the number of pieces, the
/// message's length, and the piece's bytes. A receiver gathers the pieces of one message — keyed by the
/// sender and the digest — in a bounded ``Reassembler``, and once it holds all of them (and their digest
/// matches) hands the whole message on, to be decoded and admitted like any datagram. Nothing of a
/// message is ever handed on before all of it arrived: a lost piece loses the message, as a lost datagram
/// would, and the protocol's own retransmissions repair it. Identical messages (an acceptor's repeated
/// 2B, say) have the same digest, so pieces of two sends of one message complete each other.
extension Wire {
    /// The fragment datagram's type code (beside ``TypeCode``, which lists messages).
    static let fragmentType: UInt8 = 18

    /// Bytes a fragment datagram takes beside its piece: magic, version and type, a header (at most 24),
    /// digest (at most 10), index, count and length (at most 5 each), rounded up.
    public static let fragmentOverhead = headerSize + 24 + 10 + 15 + 11

    /// The longest message any process reassembles, whatever its own `max-value-bytes`: a value of the
    /// largest `max-value-bytes` allowed, plus its message's envelope, with room to spare.
    public static let maxMessageBytes = maxValueBytesLimit + (1 << 16)

    /// The largest `max-value-bytes` a configuration may set (16 MiB).
    public static let maxValueBytesLimit = 16 << 20

    /// One piece of a message, as a fragment datagram carries it.
    public struct Fragment: Hashable, Sendable {
        public var header: Header
        /// ``Wire/digest(_:)`` of the whole message.
        public var digest: UInt64
        public var index: Int
        public var count: Int
        /// The whole message's length in bytes.
        public var total: Int
        public var piece: ArraySlice<UInt8>

        public init(header: Header, digest: UInt64, index: Int, count: Int, total: Int, piece: ArraySlice<UInt8>) {
            self.header = header
            self.digest = digest
            self.index = index
            self.count = count
            self.total = total
            self.piece = piece
        }
    }

    /// The datagrams that carry `message`: itself when it fits in `datagramBytes`, else its fragments,
    /// each at most `datagramBytes` long.
    public static func datagrams(for message: [UInt8], header: Header, datagramBytes: Int) -> [[UInt8]] {
        guard message.count > datagramBytes else { return [message] }
        let pieceSize = max(datagramBytes - fragmentOverhead, 1)
        let count = (message.count + pieceSize - 1) / pieceSize
        let digest = digest(message)
        var out: [[UInt8]] = []
        out.reserveCapacity(count)
        for index in 0..<count {
            let start = index * pieceSize
            let piece = message[start..<min(start + pieceSize, message.count)]
            out.append(encode(Fragment(header: header, digest: digest, index: index, count: count,
                                       total: message.count, piece: piece)))
        }
        return out
    }

    public static func encode(_ f: Fragment) -> [UInt8] {
        var w = Writer()
        w.bytes.reserveCapacity(fragmentOverhead + f.piece.count)
        w.bytes.append(magic.0); w.bytes.append(magic.1); w.bytes.append(version); w.bytes.append(fragmentType)
        w.varint(UInt64(f.header.fingerprint.acceptorCount)); w.varint(UInt64(f.header.fingerprint.learnerCount))
        w.bytes.append(f.header.sender.role.code); w.varint(UInt64(f.header.sender.id))
        w.varint(UInt64(f.header.sender.incarnation)); w.varint(f.header.sender.startedAt)
        w.varint(f.digest); w.varint(UInt64(f.index)); w.varint(UInt64(f.count)); w.varint(UInt64(f.total))
        w.bytes.append(contentsOf: f.piece)
        return w.bytes
    }

    /// Whether a datagram is a fragment (its magic, version and type say so; its fields may still be bad).
    public static func isFragment(_ datagram: [UInt8]) -> Bool {
        datagram.count >= headerSize && datagram[0] == magic.0 && datagram[1] == magic.1
            && datagram[2] == version && datagram[3] == fragmentType
    }

    /// Decodes a fragment datagram; never traps. Refuses pieces no sender writes: an index beyond the
    /// count, fewer than two pieces, an empty piece, a message longer than ``maxMessageBytes`` or shorter
    /// than its pieces.
    public static func decodeFragment(_ datagram: [UInt8]) -> Result<Fragment, DecodeError> {
        datagram.withUnsafeBytes { buffer -> Result<Fragment, DecodeError> in
            guard buffer.count >= headerSize else { return .failure(.tooShort) }
            guard buffer[0] == magic.0, buffer[1] == magic.1 else { return .failure(.badMagic) }
            guard buffer[2] == version else { return .failure(.unsupportedVersion(buffer[2])) }
            guard buffer[3] == fragmentType else { return .failure(.unknownType(buffer[3])) }
            var r = Reader(buffer: buffer, offset: headerSize)
            do throws(DecodeError) {
                let header = try r.header()
                let digest = try r.varint()
                let index = try r.varint(), count = try r.varint(), total = try r.varint()
                guard total <= UInt64(maxMessageBytes) else {
                    return .failure(.malformed("fragmented message of \(total) bytes, over \(maxMessageBytes)"))
                }
                guard count >= 2, count <= total else { return .failure(.malformed("fragment count \(count) for \(total) bytes")) }
                guard index < count else { return .failure(.malformed("fragment \(index) of \(count)")) }
                guard r.remaining > 0 else { return .failure(.malformed("empty fragment")) }
                guard r.remaining <= Int(total) else { return .failure(.malformed("fragment longer than its message")) }
                return .success(Fragment(header: header, digest: digest, index: Int(index), count: Int(count), total: Int(total),
                                         piece: datagram[(datagram.count - r.remaining)...]))
            } catch {
                return .failure(error)
            }
        }
    }

    /// A 64-bit digest of a message: names its fragments and checks the reassembled whole. Not a
    /// cryptographic hash (a key's HMAC tags each fragment): it tells one sender's messages apart.
    public static func digest(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count)
        bytes.withUnsafeBytes { raw in
            let words = raw.count / 8
            for i in 0..<words {
                let w = raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
                h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
                h ^= h >> 29
            }
            var tail: UInt64 = 0
            for i in (words * 8)..<raw.count { tail = tail << 8 | UInt64(raw[i]) }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        return h ^ (h >> 33)
    }
}

/// Gathers the fragments of messages until each is whole. Bounded: it holds at most `maxBufferedBytes`
/// of pieces and `maxPartial` incomplete messages; beyond either, the incomplete message that heard
/// nothing for the longest is forgotten (counted in `evicted`). A fragment that does not fit the pieces
/// already held of its message (another count or length, a piece of another size at an index already
/// held) is dropped, and a whole whose digest does not match is dropped: nothing partial or spliced is
/// ever handed on.
public struct Reassembler: Sendable {
    public struct Limits: Hashable, Sendable {
        public var maxBufferedBytes: Int
        public var maxPartial: Int

        public init(maxBufferedBytes: Int = 64 << 20, maxPartial: Int = 1_024) {
            self.maxBufferedBytes = maxBufferedBytes
            self.maxPartial = maxPartial
        }
    }

    public enum Outcome: Hashable, Sendable {
        /// Pieces are still missing.
        case incomplete
        /// The whole message: the bytes of one datagram, to decode as such.
        case complete([UInt8])
        /// The fragment was refused (and its message forgotten if it contradicted it), for this reason.
        case dropped(String)
    }

    struct Key: Hashable, Sendable {
        var sender: Sender
        var digest: UInt64
    }

    struct Partial: Sendable {
        var count: Int
        var total: Int
        var pieces: [ArraySlice<UInt8>?]
        var held = 0
        var bytes = 0
        var lastTouched: UInt64
    }

    public let limits: Limits
    private var partials: [Key: Partial] = [:]
    private var clock: UInt64 = 0
    /// Bytes of pieces held now.
    public private(set) var bufferedBytes = 0
    /// Incomplete messages forgotten to stay within the limits.
    public private(set) var evicted = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Incomplete messages held now.
    public var partialCount: Int { partials.count }

    public mutating func add(_ f: Wire.Fragment) -> Outcome {
        clock += 1
        let key = Key(sender: f.header.sender, digest: f.digest)
        guard f.total <= limits.maxBufferedBytes else {
            return .dropped("fragmented message of \(f.total) bytes, larger than the reassembly buffer (\(limits.maxBufferedBytes))")
        }
        var p = partials[key] ?? Partial(count: f.count, total: f.total, pieces: [], lastTouched: clock)
        guard p.count == f.count, p.total == f.total else {
            forget(key)
            return .dropped("fragment \(f.index) of \(f.count) (\(f.total) bytes) contradicts earlier ones (\(p.count), \(p.total) bytes)")
        }
        if p.pieces.isEmpty { p.pieces = Array(repeating: nil, count: f.count) }
        if let held = p.pieces[f.index] {
            // A duplicate: harmless if identical in size (the digest checks content at the end).
            guard held.count == f.piece.count else {
                forget(key)
                return .dropped("fragment \(f.index) of \(f.count) differs from an earlier copy")
            }
            p.lastTouched = clock
            partials[key] = p
            return .incomplete
        }
        guard p.bytes + f.piece.count <= p.total else {
            forget(key)
            return .dropped("fragments of \(p.total) bytes overflow it")
        }
        // Remove our own entry's bytes first, so eviction never picks the message being completed.
        if let old = partials.removeValue(forKey: key) { bufferedBytes -= old.bytes }
        makeRoom(for: p.bytes + f.piece.count)
        p.pieces[f.index] = f.piece
        p.held += 1
        p.bytes += f.piece.count
        p.lastTouched = clock
        if p.held == p.count {
            guard p.bytes == p.total else { return .dropped("fragments hold \(p.bytes) bytes, their message \(p.total)") }
            var whole: [UInt8] = []
            whole.reserveCapacity(p.total)
            for piece in p.pieces { whole.append(contentsOf: piece!) }
            guard Wire.digest(whole) == f.digest else { return .dropped("reassembled message does not match its digest") }
            return .complete(whole)
        }
        partials[key] = p
        bufferedBytes += p.bytes
        return .incomplete
    }

    private mutating func forget(_ key: Key) {
        if let old = partials.removeValue(forKey: key) { bufferedBytes -= old.bytes }
    }

    /// Forgets the least recently touched incomplete messages until `incoming` more bytes and one more
    /// message fit.
    private mutating func makeRoom(for incoming: Int) {
        while !partials.isEmpty
            && (bufferedBytes + incoming > limits.maxBufferedBytes || partials.count + 1 > limits.maxPartial)
        {
            let oldest = partials.min { $0.value.lastTouched < $1.value.lastTouched }!.key
            forget(oldest)
            evicted += 1
        }
    }
}
