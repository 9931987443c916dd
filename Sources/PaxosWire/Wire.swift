/// The binary wire format, version 4 (2Bs carry digests instead of values; `chosen` names runs of sequence
/// numbers).
///
/// A datagram is `"PX"`, a version byte, a message-type byte, the header — the sender's cluster
/// fingerprint (acceptor-count, learner-count) and identity (role, id, incarnation, start time) — then
/// the message's fields. Integers are
/// unsigned LEB128 varints; byte strings and lists are prefixed by their length. Decoding never traps:
/// every read is bounds-checked, and a list's count is checked against the bytes left before anything
/// is allocated, so a hostile count cannot make a decoder allocate more than the datagram's size.
public enum Wire {
    public static let magic: (UInt8, UInt8) = (0x50, 0x58)  // "PX"
    public static let version: UInt8 = 4
    /// The fixed bytes: magic, version and message type, before the variable-length header.
    public static let headerSize = 4
    /// The highest instance number a datagram may carry. Beyond it numbers are absurd (a log that long
    /// would take millennia) and refused, so no role computes `instance + 1` near overflow.
    public static let maxInstance: Instance = 1 << 62

    public enum DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
        case tooShort
        case badMagic
        case unsupportedVersion(UInt8)
        case unknownType(UInt8)
        case truncated
        case malformed(String)
        case trailingBytes(Int)

        public var description: String {
            switch self {
            case .tooShort: "datagram shorter than its fixed 4 bytes"
            case .badMagic: "not a paxos datagram (bad magic)"
            case .unsupportedVersion(let v): "unsupported wire version \(v)"
            case .unknownType(let t): "unknown message type \(t)"
            case .truncated: "truncated datagram"
            case .malformed(let why): "malformed datagram: \(why)"
            case .trailingBytes(let n): "\(n) unexpected bytes after the message"
            }
        }

        /// What is wrong, without calling the bytes a datagram (for a stored proposal).
        public var reason: String {
            switch self {
            case .truncated: "truncated"
            case .malformed(let why): why
            case .trailingBytes(let n): "\(n) unexpected bytes after it"
            default: description
            }
        }
    }

    enum TypeCode: UInt8 {
        case submit = 1, chosen, prepare, promise, nack, accept, accepted, replay, heartbeat, catchUp,
             decided, recover, progress, trimmed, recoverState, acceptorState, present
    }

    /// What every datagram says about where it comes from.
    public struct Header: Hashable, Sendable {
        public var fingerprint: ClusterFingerprint
        public var sender: Sender

        public init(fingerprint: ClusterFingerprint, sender: Sender) {
            self.fingerprint = fingerprint
            self.sender = sender
        }

        /// The header of datagrams built outside any process, for a cluster of default settings.
        public static let unattributed = Header(fingerprint: .defaultSettings, sender: .unattributed)
    }

    /// A decoded datagram.
    public struct Datagram: Hashable, Sendable {
        public var header: Header
        public var message: Message
    }

    // MARK: sizes, for packing batches into datagrams without encoding twice

    static func varintSize(_ v: UInt64) -> Int {
        var v = v
        var n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// Encoded size of one submission inside a batch.
    public static func size(of s: Submission) -> Int {
        varintSize(UInt64(s.id.client)) + varintSize(s.id.incarnation) + varintSize(s.id.sequence)
            + varintSize(UInt64(s.value.count)) + s.value.count
    }

    /// Encoded size of one run inside a `chosen` message.
    public static func size(of r: ChosenRun) -> Int {
        varintSize(UInt64(r.client)) + varintSize(r.incarnation) + varintSize(r.first) + varintSize(r.count)
    }

    /// Encoded size of a proposal.
    public static func size(of p: Proposal) -> Int {
        switch p {
        case .noop: return 1
        case .batch(let subs): return 1 + varintSize(UInt64(subs.count)) + subs.reduce(0) { $0 + size(of: $1) }
        }
    }

    static func size(of b: Ballot) -> Int {
        varintSize(b.round) + varintSize(UInt64(b.proposer)) + varintSize(UInt64(b.incarnation))
    }

    /// Encoded size of an accepted entry inside a promise or replay.
    public static func size(of e: AcceptedEntry) -> Int {
        varintSize(e.instance) + size(of: e.ballot) + size(of: e.proposal)
    }

    /// Encoded size of a vote inside a 2B: the instance and eight bytes of digest.
    public static func size(of v: Vote) -> Int { varintSize(v.instance) + 8 }

    /// Encoded size of an instance proposal inside an accept, accepted or decided message.
    public static func size(of p: InstanceProposal) -> Int { varintSize(p.instance) + size(of: p.proposal) }

    /// Upper bound of the bytes a datagram takes beside its list items, for the headers processes send
    /// (fingerprint of at most 64 acceptors and a million learners, a 32-bit id and incarnation, a start
    /// time in milliseconds before the year 10000: at most 24 bytes) and any message's fixed fields and
    /// list count (at most 78, an acceptorState with every field at its widest).
    public static let envelopeAllowance = headerSize + 24 + 78

    // MARK: encoding

    public static func encode(_ message: Message, header: Header = .unattributed) -> [UInt8] {
        var w = Writer()
        w.bytes.reserveCapacity(64)
        w.bytes.append(magic.0)
        w.bytes.append(magic.1)
        w.bytes.append(version)
        w.bytes.append(0)  // the type code, set below
        w.varint(UInt64(header.fingerprint.acceptorCount)); w.varint(UInt64(header.fingerprint.learnerCount))
        w.bytes.append(header.sender.role.code); w.varint(UInt64(header.sender.id))
        w.varint(UInt64(header.sender.incarnation)); w.varint(header.sender.startedAt)
        func type(_ code: TypeCode) { w.bytes[3] = code.rawValue }
        switch message {
        case .submit(let subs):
            type(.submit)
            w.list(subs) { $0.submission($1) }
        case .chosen(let runs):
            type(.chosen)
            w.list(runs) { w, run in
                w.varint(UInt64(run.client)); w.varint(run.incarnation); w.varint(run.first); w.varint(run.count)
            }
        case .prepare(let ballot, let from):
            type(.prepare)
            w.ballot(ballot); w.varint(from)
        case .promise(let p):
            type(.promise)
            w.promise(p)
        case .nack(let acceptor, let promised):
            type(.nack)
            w.varint(UInt64(acceptor)); w.ballot(promised)
        case .accept(let ballot, let proposals, let decidedThrough):
            type(.accept)
            w.ballot(ballot); w.varint(decidedThrough)
            w.list(proposals) { $0.instanceProposal($1) }
        case .accepted(let acceptor, let ballot, let votes):
            type(.accepted)
            w.varint(UInt64(acceptor)); w.ballot(ballot)
            w.list(votes) { w, v in w.varint(v.instance); w.u64(v.digest) }
        case .replay(let acceptor, let entries):
            type(.replay)
            w.varint(UInt64(acceptor))
            w.list(entries) { $0.entry($1) }
        case .heartbeat(let ballot, let firstUndecided):
            type(.heartbeat)
            w.ballot(ballot); w.varint(firstUndecided)
        case .catchUp(let learner, let from, let to):
            type(.catchUp)
            w.varint(UInt64(learner)); w.varint(from); w.varint(to)
        case .decided(let proposals):
            type(.decided)
            w.list(proposals) { $0.instanceProposal($1) }
        case .recover(let learner, let from):
            type(.recover)
            w.varint(UInt64(learner)); w.varint(from)
        case .progress(let learner, let delivered):
            type(.progress)
            w.varint(UInt64(learner)); w.varint(delivered)
        case .trimmed(let acceptor, let through):
            type(.trimmed)
            w.varint(UInt64(acceptor)); w.varint(through)
        case .recoverState(let acceptor, let barrier, let request):
            type(.recoverState)
            w.varint(UInt64(acceptor)); w.ballot(barrier); w.varint(request)
        case .acceptorState(let p, let recovering, let request):
            type(.acceptorState)
            w.promise(p); w.bytes.append(recovering ? 1 : 0); w.varint(request)
        case .present(let acceptor, let promised):
            type(.present)
            w.varint(UInt64(acceptor)); w.ballot(promised)
        }
        return w.bytes
    }

    /// One field as every datagram writes it (unsigned LEB128), for tools that build malformed datagrams
    /// on purpose (a header field beyond its 32 bits, an overlong varint) around what ``encode(_:header:)``
    /// wrote.
    public static func varint(_ value: UInt64) -> [UInt8] {
        var w = Writer()
        w.varint(value)
        return w.bytes
    }

    /// A proposal alone, as acceptors store it (`accepted.proposal`): the bytes it takes inside a datagram.
    public static func encode(_ proposal: Proposal) -> [UInt8] {
        var w = Writer()
        w.bytes.reserveCapacity(size(of: proposal))
        w.proposal(proposal)
        return w.bytes
    }

    /// The digest a 2B names a proposal by: 64 bits over its canonical encoding's fields (kind, count,
    /// each submission's id, length and bytes), computed without encoding it. The same function in every
    /// role, independent of the process (unlike Swift's `Hasher`). Not cryptographic: it guards against a
    /// learner pairing a vote with another value than the one voted for (a proposer restarted without
    /// its database, a bug); forged datagrams are the shared key's business.
    public static func digest(of proposal: Proposal) -> UInt64 {
        var h = ProposalHasher()
        switch proposal {
        case .noop:
            h.word(0)
        case .batch(let subs):
            h.word(1); h.word(UInt64(subs.count))
            for s in subs {
                h.word(UInt64(s.id.client)); h.word(s.id.incarnation); h.word(s.id.sequence)
                h.bytes(s.value)
            }
        }
        return h.finish()
    }

    struct ProposalHasher {
        private var h: UInt64 = 0x243F_6A88_85A3_08D3
        private var n: UInt64 = 0

        /// wyhash's mix: the 128-bit product folded to 64 bits.
        @inline(__always) private static func mum(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let p = a.multipliedFullWidth(by: b)
            return p.high ^ p.low
        }

        @inline(__always) mutating func word(_ w: UInt64) {
            n &+= 1
            h = Self.mum(h ^ w ^ 0xA076_1D64_78BD_642F, 0xE703_7ED1_A0B4_28DB ^ n)
        }

        mutating func bytes(_ b: [UInt8]) {
            word(UInt64(b.count))
            b.withUnsafeBytes { raw in
                let words = raw.count / 8
                var i = 0
                while i < words {
                    word(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
                    i += 1
                }
                var tail: UInt64 = 0
                for k in (words * 8)..<raw.count { tail = tail << 8 | UInt64(raw[k]) }
                word(tail)
            }
        }

        func finish() -> UInt64 { Self.mum(h ^ n, 0x8EBC_6AF0_9C88_C6E3) ^ h }
    }

    /// Decodes exactly one proposal, as ``encode(_:)-proposal`` wrote it; never traps.
    public static func decodeProposal(_ buffer: UnsafeRawBufferPointer) throws(DecodeError) -> Proposal {
        var r = Reader(buffer: buffer, offset: 0)
        let proposal = try r.proposal()
        guard r.offset == buffer.count else { throw .trailingBytes(buffer.count - r.offset) }
        return proposal
    }

    public static func decodeProposal(_ bytes: [UInt8]) throws(DecodeError) -> Proposal {
        // withUnsafeBytes is rethrows, which erases typed throws; carry the result out instead.
        let result: Result<Proposal, DecodeError> = bytes.withUnsafeBytes { buffer in
            Result { () throws(DecodeError) -> Proposal in try decodeProposal(buffer) }
        }
        return try result.get()
    }

    struct Writer {
        var bytes: [UInt8] = []

        mutating func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }

        /// Eight bytes, little-endian (digests: a varint would take ten).
        mutating func u64(_ value: UInt64) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func ballot(_ b: Ballot) { varint(b.round); varint(UInt64(b.proposer)); varint(UInt64(b.incarnation)) }

        mutating func promise(_ p: Promise) {
            varint(UInt64(p.acceptor)); ballot(p.ballot); varint(p.from); varint(p.answer)
            varint(UInt64(p.chunk)); varint(UInt64(p.chunkCount)); varint(p.trimmedThrough)
            list(p.accepted) { $0.entry($1) }
        }

        mutating func list<T>(_ items: [T], _ each: (inout Writer, T) -> Void) {
            varint(UInt64(items.count))
            for item in items { each(&self, item) }
        }

        mutating func submission(_ s: Submission) {
            varint(UInt64(s.id.client)); varint(s.id.incarnation); varint(s.id.sequence)
            varint(UInt64(s.value.count)); bytes.append(contentsOf: s.value)
        }

        mutating func proposal(_ p: Proposal) {
            switch p {
            case .noop: bytes.append(0)
            case .batch(let subs): bytes.append(1); list(subs) { $0.submission($1) }
            }
        }

        mutating func instanceProposal(_ p: InstanceProposal) { varint(p.instance); proposal(p.proposal) }

        mutating func entry(_ e: AcceptedEntry) { varint(e.instance); ballot(e.ballot); proposal(e.proposal) }
    }

    // MARK: decoding

    /// Whether a datagram says it is a 2A (`accept`), by its fixed bytes alone (its fields may still be bad).
    public static func isAccept(_ datagram: [UInt8]) -> Bool {
        datagram.count >= headerSize && datagram[0] == magic.0 && datagram[1] == magic.1
            && datagram[2] == version && datagram[3] == TypeCode.accept.rawValue
    }

    /// Decodes one datagram. Never traps; anything that is not exactly one well-formed message of this
    /// wire version is an error.
    public static func decode(_ bytes: [UInt8]) -> Result<Message, DecodeError> {
        decodeDatagram(bytes).map(\.message)
    }

    public static func decodeDatagram(_ bytes: [UInt8]) -> Result<Datagram, DecodeError> {
        bytes.withUnsafeBufferPointer { decodeDatagram(UnsafeRawBufferPointer($0)) }
    }

    public static func decodeDatagram(_ buffer: UnsafeRawBufferPointer) -> Result<Datagram, DecodeError> {
        guard buffer.count >= headerSize else { return .failure(.tooShort) }
        guard buffer[0] == magic.0, buffer[1] == magic.1 else { return .failure(.badMagic) }
        guard buffer[2] == version else { return .failure(.unsupportedVersion(buffer[2])) }
        guard let code = TypeCode(rawValue: buffer[3]) else { return .failure(.unknownType(buffer[3])) }
        var r = Reader(buffer: buffer, offset: headerSize)
        do {
            let header = try r.header()
            let message = try r.message(code)
            guard r.offset == buffer.count else { return .failure(.trailingBytes(buffer.count - r.offset)) }
            return .success(Datagram(header: header, message: message))
        } catch {
            return .failure(error)
        }
    }

    struct Reader {
        let buffer: UnsafeRawBufferPointer
        var offset: Int

        var remaining: Int { buffer.count - offset }

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard offset < buffer.count else { throw .truncated }
            defer { offset += 1 }
            return buffer[offset]
        }

        @inline(__always)
        mutating func varint() throws(DecodeError) -> UInt64 {
            // One byte (counts, ids, lengths, small numbers): inlined where it is read.
            if offset < buffer.count, buffer[offset] < 0x80 {
                defer { offset += 1 }
                return UInt64(buffer[offset])
            }
            return try longVarint()
        }

        /// A varint of any length; the position moves once, at the end (the loop keeps it in a register).
        mutating func longVarint() throws(DecodeError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            var at = offset
            while at < buffer.count {
                let b = buffer[at]
                at += 1
                // The tenth byte may only hold the top bit of a 64-bit value.
                if shift == 63 && b > 1 { throw .malformed("varint overflows 64 bits") }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 {
                    offset = at
                    return result
                }
                shift += 7
            }
            throw .truncated
        }

        mutating func u64() throws(DecodeError) -> UInt64 {
            guard remaining >= 8 else { throw .truncated }
            defer { offset += 8 }
            return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }

        mutating func instance() throws(DecodeError) -> Instance {
            let v = try varint()
            guard v <= Wire.maxInstance else { throw .malformed("instance \(v) beyond 2^62") }
            return v
        }

        mutating func u32() throws(DecodeError) -> UInt32 {
            let v = try varint()
            guard v <= UInt64(UInt32.max) else { throw .malformed("id beyond 32 bits") }
            return UInt32(v)
        }

        /// A list count, refused when it claims more items than the bytes left could hold.
        mutating func count(minimumItemSize: Int) throws(DecodeError) -> Int {
            let n = try varint()
            guard n <= UInt64(remaining / minimumItemSize) else { throw .truncated }
            return Int(n)
        }

        mutating func list<T>(minimumItemSize: Int, _ each: (inout Reader) throws(DecodeError) -> T)
            throws(DecodeError) -> [T]
        {
            let n = try count(minimumItemSize: minimumItemSize)
            var items: [T] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try each(&self)) }
            return items
        }

        mutating func ballot() throws(DecodeError) -> Ballot {
            Ballot(round: try varint(), proposer: try u32(), incarnation: try u32())
        }

        mutating func header() throws(DecodeError) -> Header {
            let fingerprint = ClusterFingerprint(acceptorCount: try u32(), learnerCount: try u32())
            let code = try byte()
            guard let role = Role(code: code) else { throw .malformed("unknown sender role \(code)") }
            let sender = Sender(role: role, id: try u32(), incarnation: try u32(), startedAt: try varint())
            return Header(fingerprint: fingerprint, sender: sender)
        }

        mutating func promise() throws(DecodeError) -> Promise {
            let acceptor = try u32()
            let ballot = try ballot()
            let from = try instance()
            let answer = try varint()
            let chunk = try u32()
            let chunkCount = try u32()
            guard chunk < chunkCount else { throw .malformed("promise chunk \(chunk) of \(chunkCount)") }
            let trimmedThrough = try instance()
            let accepted = try list(minimumItemSize: 5) { r throws(DecodeError) in try r.entry() }
            return Promise(acceptor: acceptor, ballot: ballot, from: from, answer: answer, chunk: chunk,
                           chunkCount: chunkCount, trimmedThrough: trimmedThrough, accepted: accepted)
        }

        mutating func submissionID() throws(DecodeError) -> SubmissionID {
            SubmissionID(client: try u32(), incarnation: try varint(), sequence: try varint())
        }

        mutating func chosenRun() throws(DecodeError) -> ChosenRun {
            let run = ChosenRun(client: try u32(), incarnation: try varint(), first: try varint(), count: try varint())
            // Sequence numbers start at 1; a run names at least one and ends within 64 bits.
            guard run.first > 0, run.count > 0, run.count - 1 <= UInt64.max - run.first else {
                throw .malformed("chosen run of \(run.count) from sequence \(run.first)")
            }
            return run
        }

        mutating func submission() throws(DecodeError) -> Submission {
            let id = try submissionID()
            let length = try count(minimumItemSize: 1)
            let value = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + length]))
            offset += length
            return Submission(id: id, value: value)
        }

        mutating func proposal() throws(DecodeError) -> Proposal {
            switch try byte() {
            case 0: return .noop
            case 1: return .batch(try list(minimumItemSize: 4) { r throws(DecodeError) in try r.submission() })
            case let t: throw .malformed("unknown proposal kind \(t)")
            }
        }

        mutating func instanceProposal() throws(DecodeError) -> InstanceProposal {
            InstanceProposal(instance: try instance(), proposal: try proposal())
        }

        mutating func entry() throws(DecodeError) -> AcceptedEntry {
            AcceptedEntry(instance: try instance(), ballot: try ballot(), proposal: try proposal())
        }

        mutating func message(_ code: TypeCode) throws(DecodeError) -> Message {
            switch code {
            case .submit:
                return .submit(try list(minimumItemSize: 4) { r throws(DecodeError) in try r.submission() })
            case .chosen:
                return .chosen(try list(minimumItemSize: 4) { r throws(DecodeError) in try r.chosenRun() })
            case .prepare:
                return .prepare(ballot: try ballot(), from: try instance())
            case .promise:
                return .promise(try promise())
            case .nack:
                return .nack(acceptor: try u32(), promised: try ballot())
            case .accept:
                let ballot = try ballot()
                let decidedThrough = try instance()
                return .accept(ballot: ballot,
                               proposals: try list(minimumItemSize: 2) { r throws(DecodeError) in try r.instanceProposal() },
                               decidedThrough: decidedThrough)
            case .accepted:
                let acceptor = try u32()
                let ballot = try ballot()
                return .accepted(acceptor: acceptor, ballot: ballot,
                                 votes: try list(minimumItemSize: 9) { r throws(DecodeError) in
                                     Vote(instance: try r.instance(), digest: try r.u64())
                                 })
            case .replay:
                let acceptor = try u32()
                return .replay(acceptor: acceptor,
                               entries: try list(minimumItemSize: 5) { r throws(DecodeError) in try r.entry() })
            case .heartbeat:
                return .heartbeat(ballot: try ballot(), firstUndecided: try instance())
            case .catchUp:
                return .catchUp(learner: try u32(), from: try instance(), to: try varint())
            case .decided:
                return .decided(try list(minimumItemSize: 2) { r throws(DecodeError) in try r.instanceProposal() })
            case .recover:
                return .recover(learner: try u32(), from: try instance())
            case .progress:
                return .progress(learner: try u32(), delivered: try instance())
            case .trimmed:
                return .trimmed(acceptor: try u32(), through: try instance())
            case .recoverState:
                return .recoverState(acceptor: try u32(), barrier: try ballot(), request: try varint())
            case .acceptorState:
                let p = try promise()
                let recovering: Bool
                switch try byte() {
                case 0: recovering = false
                case 1: recovering = true
                case let b: throw .malformed("acceptorState flag \(b)")
                }
                return .acceptorState(p, recovering: recovering, request: try varint())
            case .present:
                return .present(acceptor: try u32(), promised: try ballot())
            }
        }
    }
}

extension Role {
    /// The role's byte in a datagram header.
    var code: UInt8 {
        switch self {
        case .acceptor: 1
        case .proposer: 2
        case .learner: 3
        case .client: 4
        }
    }

    init?(code: UInt8) {
        guard let role = Role.allCases.first(where: { $0.code == code }) else { return nil }
        self = role
    }
}

extension Message {
    /// Convenience for `Wire.encode(self)`.
    public var encoded: [UInt8] { Wire.encode(self) }
}
