import PaxosWire
import Testing

/// Messages longer than one datagram: cut into fragments, reassembled only whole, within bounds.
@Suite struct FragmentTests {
    let header = Wire.Header(fingerprint: .defaultSettings,
                             sender: Sender(role: .acceptor, id: 2, incarnation: 77, startedAt: 1_234))

    func bigMessage(_ valueBytes: Int, seed: UInt8 = 1) -> [UInt8] {
        let value = (0..<valueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
        let sub = Submission(id: SubmissionID(client: 1, incarnation: 9, sequence: 3), value: value)
        return Wire.encode(.accept(ballot: Ballot(round: 1, proposer: 1, incarnation: 5),
                                   proposals: [InstanceProposal(instance: 7, proposal: .batch([sub]))]), header: header)
    }

    func fragments(_ message: [UInt8], datagramBytes: Int = 1_000) -> [Wire.Fragment] {
        Wire.datagrams(for: message, header: header, datagramBytes: datagramBytes).map {
            #expect(Wire.isFragment($0))
            #expect($0.count <= datagramBytes)
            return try! Wire.decodeFragment($0).get()
        }
    }

    @Test func aMessageThatFitsIsSentAsItIs() {
        let message = bigMessage(100)
        #expect(Wire.datagrams(for: message, header: header, datagramBytes: 1_000) == [message])
        #expect(!Wire.isFragment(message))
    }

    @Test func fragmentsInAnyOrderWithDuplicatesGiveTheWholeMessageOnce() throws {
        let message = bigMessage(1 << 20)
        var pieces = fragments(message, datagramBytes: 60_000)
        #expect(pieces.count == 18)
        var rng = SystemRandomNumberGenerator()
        pieces += pieces.prefix(5)
        pieces.shuffle(using: &rng)
        var r = Reassembler()
        var wholes: [[UInt8]] = []
        for f in pieces {
            switch r.add(f) {
            case .complete(let whole): wholes.append(whole)
            case .incomplete: break
            case .dropped(let why): Issue.record("dropped: \(why)")
            }
        }
        // The duplicates that came after completion start a new partial message, never a second whole.
        #expect(wholes == [message])
        let decoded = try Wire.decodeDatagram(wholes[0]).get()
        #expect(decoded.header == header)
        #expect(r.bufferedBytes <= 5 * 60_000)
    }

    @Test func nothingIsHandedOnWhileAPieceIsMissing() {
        let pieces = fragments(bigMessage(20_000))
        var r = Reassembler()
        for f in pieces.dropLast() { #expect(r.add(f) == .incomplete) }
        #expect(r.partialCount == 1)
        if case .complete = r.add(pieces.last!) {} else { Issue.record("the last piece did not complete it") }
        #expect(r.partialCount == 0 && r.bufferedBytes == 0)
    }

    @Test func piecesOfTwoSendsOfOneMessageCompleteEachOther() {
        let message = bigMessage(5_000)
        let first = fragments(message), second = fragments(message)
        var r = Reassembler()
        for (i, f) in first.enumerated() where i % 2 == 0 { _ = r.add(f) }
        var result: Reassembler.Outcome = .incomplete
        for (i, f) in second.enumerated() where i % 2 == 1 { result = r.add(f) }
        #expect(result == .complete(message))
    }

    @Test func aSplicedOrForgedPieceIsDroppedNeverDelivered() {
        let message = bigMessage(5_000)
        var pieces = fragments(message)
        // Same digest, index and length, other bytes: the whole fails its digest.
        var forged = pieces[2]
        forged.piece = ArraySlice(forged.piece.map { $0 ^ 0xFF })
        pieces[2] = forged
        var r = Reassembler()
        var outcomes: [Reassembler.Outcome] = []
        for f in pieces { outcomes.append(r.add(f)) }
        #expect(outcomes.last == .dropped("reassembled message does not match its digest"))
        #expect(!outcomes.contains { if case .complete = $0 { true } else { false } })
        #expect(r.bufferedBytes == 0)

        // A piece claiming another count or length for the same message forgets it.
        var r2 = Reassembler()
        let good = fragments(message)
        _ = r2.add(good[0])
        var liar = good[1]
        liar.total += 1
        if case .dropped = r2.add(liar) {} else { Issue.record("a contradicting piece was taken") }
        #expect(r2.partialCount == 0 && r2.bufferedBytes == 0)
        // A second copy of a held index with another size is refused too.
        _ = r2.add(good[0])
        var shorter = good[0]
        shorter.piece = shorter.piece.dropLast()
        if case .dropped = r2.add(shorter) {} else { Issue.record("a resized duplicate was taken") }
    }

    @Test func truncatedAndAbsurdFragmentsDecodeToErrorsNeverTraps() {
        let datagram = Wire.datagrams(for: bigMessage(5_000), header: header, datagramBytes: 1_000)[1]
        for n in 0..<datagram.count {
            // Every prefix either fails to decode or is a shorter (still consistent-looking) piece.
            _ = Wire.decodeFragment(Array(datagram.prefix(n)))
        }
        func fragment(index: UInt64, count: UInt64, total: UInt64, piece: Int = 10) -> [UInt8] {
            var d = Array(datagram.prefix(4))
            d += Wire.varint(3) + Wire.varint(2) + [2] + Wire.varint(1) + Wire.varint(1) + Wire.varint(1)
            d += Wire.varint(42) + Wire.varint(index) + Wire.varint(count) + Wire.varint(total)
            return d + [UInt8](repeating: 7, count: piece)
        }
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 2, total: 20)).get()) != nil)
        #expect((try? Wire.decodeFragment(fragment(index: 2, count: 2, total: 20)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 1, total: 20)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 30, total: 20)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 2, total: 5)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 2, total: UInt64(Wire.maxMessageBytes) + 1)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 2, total: .max)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: .max, count: .max, total: .max)).get()) == nil)
        #expect((try? Wire.decodeFragment(fragment(index: 0, count: 2, total: 20, piece: 0)).get()) == nil)
        // A fragment is no message: the message decoder refuses it.
        #expect((try? Wire.decodeDatagram(datagram).get()) == nil)
    }

    @Test func theBufferStaysWithinItsBoundsEvictingTheStalest() {
        var r = Reassembler(limits: .init(maxBufferedBytes: 50_000, maxPartial: 4))
        // Ten messages, each missing its last piece: never more than the bounds held.
        var firstPieces: [[Wire.Fragment]] = []
        for seed in 0..<10 {
            let pieces = fragments(bigMessage(20_000, seed: UInt8(seed)), datagramBytes: 5_000)
            firstPieces.append(pieces)
            for f in pieces.dropLast() {
                #expect(r.add(f) == .incomplete)
                #expect(r.bufferedBytes <= 50_000)
                #expect(r.partialCount <= 4)
            }
        }
        #expect(r.evicted > 0)
        // The newest message is still held: its last piece completes it.
        if case .complete = r.add(firstPieces[9].last!) {} else { Issue.record("the newest message was evicted") }
        // The oldest was forgotten: its last piece alone completes nothing.
        #expect(r.add(firstPieces[0].last!) == .incomplete)
        // A message larger than the whole buffer is refused at once.
        let huge = fragments(bigMessage(60_000), datagramBytes: 5_000)
        if case .dropped = r.add(huge[0]) {} else { Issue.record("a message larger than the buffer was held") }
    }

    @Test func theDigestTellsMessagesApart() {
        #expect(Wire.digest([1, 2, 3]) != Wire.digest([1, 2, 4]))
        #expect(Wire.digest([]) != Wire.digest([0]))
        #expect(Wire.digest(bigMessage(1_000, seed: 1)) != Wire.digest(bigMessage(1_000, seed: 2)))
        #expect(Wire.digest(bigMessage(1_000)) == Wire.digest(bigMessage(1_000)))
    }
}
