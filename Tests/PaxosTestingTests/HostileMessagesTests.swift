// The catalogue and junk the spray tests send are what they claim to be.
import PaxosCore
import PaxosTesting
import Testing

@Suite struct HostileMessagesTests {
    static let catalogue = HostileMessages.catalogue()

    @Test func entriesHaveUniqueNamesAndEveryCategory() {
        let names = Self.catalogue.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(Set(Self.catalogue.map(\.category)) == Set(HostileMessages.Category.allCases))
        #expect(Self.catalogue.allSatisfy { !$0.datagrams.isEmpty })
    }

    /// Each datagram decodes with the sprayer's header, or is refused only for an instance beyond
    /// Wire.maxInstance (entries kept to show that the decoder refuses them).
    @Test func datagramsDecodeWithTheSprayersHeaderOrCarryInstancesBeyondTheLimit() {
        for entry in Self.catalogue {
            for d in entry.datagrams {
                if Wire.isFragment(d) {
                    // A fragment: refused by the fragment decoder, or stamped with the sprayer's header.
                    if case .success(let f) = Wire.decodeFragment(d) {
                        #expect(f.header == Wire.Header(fingerprint: .defaultSettings, sender: HostileMessages.sender), "\(entry.label)")
                        #expect(Wire.encode(f) == d, "\(entry.label) is not canonical")
                    }
                    continue
                }
                switch Wire.decodeDatagram(d) {
                case .success(let decoded):
                    #expect(decoded.header == Wire.Header(fingerprint: .defaultSettings, sender: HostileMessages.sender), "\(entry.label)")
                    #expect(Wire.encode(decoded.message, header: decoded.header) == d, "\(entry.label) is not canonical")
                case .failure(let error):
                    #expect("\(error)".hasSuffix("beyond 2^62"), "\(entry.label) does not decode: \(error)")
                }
            }
        }
    }

    /// Every value a catalogue entry carries is the forged one, so a learner that delivers it was fooled;
    /// most forged entries carry it.
    @Test func theOnlyValueSprayedIsTheForgedOne() {
        func values(_ m: Message) -> [[UInt8]] {
            func of(_ p: Proposal) -> [[UInt8]] { p.submissions.map(\.value) }
            switch m {
            case .submit(let subs): return subs.map(\.value)
            case .accept(_, let ips, _), .decided(let ips): return ips.flatMap { of($0.proposal) }
            case .replay(_, let entries): return entries.flatMap { of($0.proposal) }
            case .promise(let p), .acceptorState(let p, _, _): return p.accepted.flatMap { of($0.proposal) }
            default: return []
            }
        }
        var carrying = 0
        for entry in Self.catalogue {
            // Fragments count by the messages they make whole, as a node's gate reassembles them.
            var reassembler = Reassembler()
            let wholes = entry.datagrams.compactMap { d -> [UInt8]? in
                guard Wire.isFragment(d) else { return d }
                guard case .success(let f) = Wire.decodeFragment(d), case .complete(let whole) = reassembler.add(f) else { return nil }
                return whole
            }
            let vs = wholes.flatMap { d -> [[UInt8]] in
                guard case .success(let decoded) = Wire.decodeDatagram(d) else { return [] }
                return values(decoded.message)
            }
            #expect(vs.allSatisfy(HostileMessages.isForged), "\(entry.label)")
            if entry.category == .forged && !vs.isEmpty { carrying += 1 }
        }
        #expect(carrying >= 40, "\(carrying) forged entries carry a value")
    }

    /// The fragment entries reach the gate's checks: the forged long value reassembles whole, the absurd
    /// ones are refused or evicted, never more than the reassembly buffer's bounds held.
    @Test func fragmentEntriesAreRefusedOrReassembledWithinBounds() {
        for entry in Self.catalogue where entry.name.hasPrefix("fragment") {
            var r = Reassembler()
            var complete = 0, dropped = 0
            for d in entry.datagrams where Wire.isFragment(d) {
                switch Wire.decodeFragment(d) {
                case .failure: dropped += 1
                case .success(let f):
                    switch r.add(f) {
                    case .complete: complete += 1
                    case .dropped: dropped += 1
                    case .incomplete: break
                    }
                }
                #expect(r.bufferedBytes <= r.limits.maxBufferedBytes && r.partialCount <= r.limits.maxPartial, "\(entry.label)")
            }
            switch entry.name {
            case "fragments-accepted-quorum-long-forged-value-instances-1-4": #expect(complete == 3, "\(entry.label)")
            case "fragments-replay-acceptor-999-long-value", "fragments-of-a-fragment": #expect(complete == 1, "\(entry.label)")
            case "fragments-1100-incomplete-messages-of-16-MiB": #expect(r.evicted > 0 && complete == 0, "\(entry.label)")
            default: #expect(complete == 0 && dropped >= 1, "\(entry.label): \(complete) complete, \(dropped) dropped")
            }
        }
    }

    @Test func selectionByPatterns() {
        let s = HostileMessages.select(Self.catalogue, categories: [.absurd], skip: ["*round-2^62-*"], only: ["accept-*"])
        #expect(!s.isEmpty)
        #expect(s.allSatisfy { $0.category == .absurd && $0.name.hasPrefix("accept-") && !$0.name.contains("round-2^62-") })
    }

    /// Junk must never decode: an unkeyed cluster counts every one as dropped.
    @Test(arguments: [HostileMessages.Kind.truncated, .trailing, .header, .oversize, .random])
    func junkNeverDecodes(_ kind: HostileMessages.Kind) {
        var junk = HostileMessages.Junk(rng: SplitMix64(seed: 42))
        for _ in 0..<2_000 {
            let d = junk.next(kind)
            if case .success(let decoded) = Wire.decodeDatagram(d) {
                Issue.record("\(kind) junk decoded: \(decoded)")
                return
            }
        }
    }

    /// Flood datagrams decode (far-future instances below the limit), each with 5000 fresh instances.
    @Test func floodDecodesWithFreshInstances() {
        var junk = HostileMessages.Junk(rng: SplitMix64(seed: 7))
        var seen: Set<UInt64> = []
        for _ in 0..<4 {
            guard case .success(let decoded) = Wire.decodeDatagram(junk.next(.flood)) else {
                Issue.record("a flood datagram does not decode")
                return
            }
            let instances: [UInt64]
            switch decoded.message {
            case .decided(let ips): instances = ips.map(\.instance)
            case .accepted(_, _, let votes): instances = votes.map(\.instance)
            default: instances = []
            }
            #expect(instances.count == 5_000 && instances.allSatisfy { $0 >= 1 << 40 && seen.insert($0).inserted })
        }
    }
}
