// The catalogue of hostile datagrams: what a process that is no part of the cluster (or one that lies)
// may multicast to every group. Built on PaxosWire's own encoder; malformed datagrams are made by
// cutting, extending or splicing what it wrote. Used by the live spray tests (Tests/PaxosTestingTests,
// through ``Sprayer``) and by the fuzz tool's simulated-cluster replay (Fuzz/Absurd.swift).
//
// This file depends on PaxosWire alone (and the C library's fnmatch), so that scripts/fuzz.sh can compile
// it into its single-module tool beside PaxosWire's and PaxosCore's sources.

#if canImport(PaxosWire)
import PaxosWire
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum HostileMessages {
    /// What an entry of the catalogue is.
    public enum Category: String, Sendable, CaseIterable {
        /// Fields no correct process can produce (rounds at or beyond 2^62, proposer or learner ids nobody
        /// runs, acceptor ids outside 1...acceptor-count, instances near 2^63 or 2^64-1, reversed or giant
        /// ranges, chunk counts of 2^32-1). None names a real ballot or forges a value for a real instance,
        /// so an unauthenticated cluster may ignore every one without losing anything.
        case absurd
        /// Absurd fields on top of a guessed real ballot (rounds 1...4 of proposers 1 and 2, incarnation 0:
        /// real proposers draw theirs at random, so a guess sits at or just below the real ballot of its
        /// round and proposer, and above every ballot of lower rounds).
        case borderline
        /// Plausible protocol messages an unauthenticated cluster MUST believe: for keyed clusters, where
        /// every one must be rejected. Their values are ``forgedValue``.
        case forged
    }

    /// One entry: its datagrams are sent in order.
    public struct Entry: Sendable, Hashable {
        public var category: Category
        public var name: String
        public var datagrams: [[UInt8]]

        /// `category/name`, how verdicts and statistics name an entry.
        public var label: String { "\(category.rawValue)/\(name)" }
    }

    /// The sender every hostile datagram claims: client 999, which no real process plays; startedAt 0
    /// keeps it older than every real process whatever role and id it claims, so it can never make one
    /// stop (an older twin is only dropped and warned about).
    public static let sender = Sender(role: .client, id: 999, incarnation: 7, startedAt: 0)

    /// The value of every forged submission; a learner that delivers it was fooled.
    public static let forgedValue: [UInt8] = Array("spray-forged-value".utf8)

    /// Whether a value is forged: ``forgedValue``, or it repeated (the long value the fragment entries carry).
    public static func isForged(_ value: [UInt8]) -> Bool {
        !value.isEmpty && value.count % forgedValue.count == 0
            && stride(from: 0, to: value.count, by: forgedValue.count).allSatisfy { value[$0..<($0 + forgedValue.count)].elementsEqual(forgedValue) }
    }

    /// Entries the current build is known to mishandle, as name patterns for ``select(_:categories:skip:only:)``.
    /// spray-test.sh's list (rounds of 2^62, progress from learners 1 and 2 at absurd instances, a 2A from
    /// proposer 999 far ahead) was fixed since (Tests/PaxosCoreTests/HostileMessageTests.swift pins each):
    /// nothing is known bad today. The open stall of Fuzz/known-bugs/stalls.tsv (a forged nack or 2B quorum
    /// before the acceptors' first promise) is in category forged, which only keyed clusters are sprayed with.
    public static let knownBad: [String] = []

    // MARK: the catalogue

    /// Every entry, each datagram stamped with `fingerprint` (the target cluster's acceptor-count and
    /// learner-count: with another, every process sets the datagram aside as foreign before any role sees it)
    /// and ``sender``.
    public static func catalogue(fingerprint: ClusterFingerprint = .defaultSettings) -> [Entry] {
        var c: [Entry] = []
        let header = Wire.Header(fingerprint: fingerprint, sender: sender)
        func add(_ category: Category, _ name: String, _ messages: [Message]) {
            c.append(Entry(category: category, name: name, datagrams: messages.map { Wire.encode($0, header: header) }))
        }
        let max64 = UInt64.max
        let max32 = UInt32.max
        let maxRound = Ballot.maxRound
        func ballot(_ round: UInt64, _ proposer: UInt32) -> Ballot { Ballot(round: round, proposer: proposer, incarnation: 0) }
        func ip(_ instance: UInt64, _ proposal: Proposal = .noop) -> InstanceProposal { InstanceProposal(instance: instance, proposal: proposal) }
        func entry(_ instance: UInt64, _ b: Ballot, _ proposal: Proposal = .noop) -> AcceptedEntry {
            AcceptedEntry(instance: instance, ballot: b, proposal: proposal)
        }
        func promise(_ acceptor: UInt32, _ b: Ballot, from: UInt64, chunk: UInt32 = 0, of count: UInt32 = 1,
                     _ entries: [AcceptedEntry] = [], trimmed: UInt64 = 0) -> Promise {
            Promise(acceptor: acceptor, ballot: b, from: from, answer: 7, chunk: chunk, chunkCount: count,
                    trimmedThrough: trimmed, accepted: entries)
        }
        func state(_ p: Promise) -> Message { .acceptorState(p, recovering: false, request: 7) }

        let hb = ballot(maxRound, 999)        // the highest VALID round, from a proposer nobody runs
        let hbmax = ballot(maxRound, max32)
        let over = ballot(maxRound + 1, 1)    // just beyond the valid rounds
        let top = ballot(max64, 999)
        let zero = ballot(0, 0)
        let real = ballot(1, 1)
        let big: [UInt64] = [1 << 63, max64 - 1, max64]
        let forgedSubmission = Submission(id: SubmissionID(client: 77, incarnation: 4242, sequence: 1), value: forgedValue)
        let outsiders: [UInt32] = [0, 4, max32]
        let trio: [UInt32] = [1, 2, 3]

        // 1A / 2A with absurd ballots
        add(.absurd, "prepare-round-2^62-proposer-999", [.prepare(ballot: hb, from: 1)])
        add(.absurd, "prepare-round-2^62-proposer-2^32-1", [.prepare(ballot: hbmax, from: 1)])
        add(.absurd, "prepare-round-2^62+1", [.prepare(ballot: over, from: 1)])
        add(.absurd, "prepare-round-2^64-1-from-2^64-1", [.prepare(ballot: top, from: max64)])
        add(.absurd, "prepare-ballot-zero-from-zero", [.prepare(ballot: zero, from: 0)])
        add(.absurd, "accept-round-2^62-proposer-999-instance-2^64-1", [.accept(ballot: hb, proposals: [ip(max64)])])
        add(.absurd, "accept-round-2^62-proposer-999-instance-2^63", [.accept(ballot: hb, proposals: [ip(1 << 63)])])
        add(.absurd, "accept-round-2^62-proposer-999-noop-instances-1-to-8", [.accept(ballot: hb, proposals: (UInt64(1)...8).map { ip($0) })])
        add(.absurd, "accept-round-2^64-1-instance-1", [.accept(ballot: top, proposals: [ip(1)])])
        add(.absurd, "accept-ballot-zero-instance-0", [.accept(ballot: zero, proposals: [ip(0)])])
        add(.absurd, "accept-round-2^62+1-instances-2^63..", [.accept(ballot: over, proposals: big.map { ip($0) })])
        // 1B
        add(.absurd, "promise-acceptors-0-4-2^32-1", outsiders.map { .promise(promise($0, real, from: 1)) })
        add(.absurd, "promise-round-2^62-proposer-999-chunk-2^32-2-of-2^32-1", trio.map {
            .promise(promise($0, hb, from: max64, chunk: max32 - 1, of: max32, [entry(max64, hb)]))
        })
        // nacks
        add(.absurd, "nack-acceptor-999-round-2^62", [.nack(acceptor: 999, promised: hb)])
        add(.absurd, "nack-acceptor-0-round-2^62", [.nack(acceptor: 0, promised: hb)])
        add(.absurd, "nack-acceptor-1-round-2^64-1", [.nack(acceptor: 1, promised: top)])
        add(.absurd, "nack-acceptor-1-round-2^62-proposer-999", [.nack(acceptor: 1, promised: hb)])
        // 2B and replays
        add(.absurd, "accepted-acceptors-0-4-2^32-1-instance-1", ([0, 4, 65, max32] as [UInt32]).map {
            .accepted(acceptor: $0, ballot: real, proposals: [ip(1)])
        })
        add(.absurd, "accepted-acceptor-1-round-2^62-proposer-999-instances-2^63..",
            [.accepted(acceptor: 1, ballot: hb, proposals: big.map { ip($0) })])
        add(.absurd, "accepted-acceptor-2-round-2^64-1-instance-2^64-1", [.accepted(acceptor: 2, ballot: top, proposals: [ip(max64)])])
        add(.absurd, "accepted-acceptor-3-instance-0", [.accepted(acceptor: 3, ballot: real, proposals: [ip(0)])])
        add(.absurd, "replay-acceptors-0-4-2^32-1", outsiders.map { .replay(acceptor: $0, entries: [entry(1, real)]) })
        add(.absurd, "replay-acceptor-1-instances-2^63..-round-2^62", [.replay(acceptor: 1, entries: big.map { entry($0, hb) })])
        // heartbeats
        add(.absurd, "heartbeat-round-2^62-proposer-999-first-2^64-1", [.heartbeat(ballot: hb, firstUndecided: max64)])
        add(.absurd, "heartbeat-round-2^62-proposer-999-first-1", [.heartbeat(ballot: hb, firstUndecided: 1)])
        add(.absurd, "heartbeat-round-2^64-1", [.heartbeat(ballot: top, firstUndecided: max64)])
        add(.absurd, "heartbeat-ballot-zero", [.heartbeat(ballot: zero, firstUndecided: 0)])
        // catch-up requests
        add(.absurd, "catchup-learner-999-1-to-2^64-1", [.catchUp(learner: 999, from: 1, to: max64)])
        add(.absurd, "catchup-learner-2^32-1-from-2^64-2-to-2^64-1", [.catchUp(learner: max32, from: max64 - 1, to: max64)])
        add(.absurd, "catchup-from-after-to", [.catchUp(learner: 999, from: 100, to: 3)])
        add(.absurd, "catchup-from-0-to-0", [.catchUp(learner: 0, from: 0, to: 0)])
        add(.absurd, "catchup-from-2^63-to-2^64-1", [.catchUp(learner: 999, from: 1 << 63, to: max64)])
        // decided / recover / chosen / submit
        add(.absurd, "decided-instance-2^63", [.decided([ip(1 << 63)])])
        add(.absurd, "decided-instance-2^64-1", [.decided([ip(max64)])])
        add(.absurd, "decided-instance-0", [.decided([ip(0)])])
        add(.absurd, "decided-empty", [.decided([])])
        add(.absurd, "recover-learner-999-from-2^64-1", [.recover(learner: 999, from: max64)])
        add(.absurd, "recover-learner-999-from-0", [.recover(learner: 999, from: 0)])
        add(.absurd, "chosen-client-2^32-1", [.chosen([ChosenRun(client: max32, incarnation: max64, first: max64, count: 1)])])
        // A run naming every sequence number (a client must walk only what it has in flight), for each real client.
        add(.absurd, "chosen-runs-1-to-2^64-1", [.chosen((UInt32(0)...3).map { ChosenRun(client: $0, incarnation: 0, first: 1, count: max64) })])
        add(.absurd, "submit-empty", [.submit([])])
        add(.absurd, "submit-sequence-2^64-1", [.submit([Submission(id: SubmissionID(client: 1, incarnation: 1, sequence: max64),
                                                                     value: forgedValue)])])
        add(.absurd, "submit-sequence-0", [.submit([Submission(id: SubmissionID(client: max32, incarnation: max64, sequence: 0),
                                                               value: forgedValue)])])
        // trimming messages
        add(.absurd, "progress-learners-1-2-delivered-2^64-1", [.progress(learner: 1, delivered: max64), .progress(learner: 2, delivered: max64)])
        add(.absurd, "progress-learner-999-delivered-2^63", [.progress(learner: 999, delivered: 1 << 63)])
        add(.absurd, "progress-learner-0", [.progress(learner: 0, delivered: 5)])
        add(.absurd, "progress-learners-1-2-delivered-2^40", [.progress(learner: 1, delivered: 1 << 40), .progress(learner: 2, delivered: 1 << 40)])
        // Flow control (progress reaches the proposers too): a forged report far behind, as from a learner
        // stuck at the start, holds a leader back only until it goes stale.
        add(.absurd, "progress-learners-1-2-delivered-1", [.progress(learner: 1, delivered: 1), .progress(learner: 2, delivered: 1)])
        add(.absurd, "trimmed-acceptor-1-through-2^64-1", [.trimmed(acceptor: 1, through: max64)])
        add(.absurd, "trimmed-acceptor-2-through-2^40", [.trimmed(acceptor: 2, through: 1 << 40)])
        add(.absurd, "trimmed-acceptor-999-through-2^63", [.trimmed(acceptor: 999, through: 1 << 63)])
        // a 2A's decidedThrough (the leader's decided prefix, the most acceptors may trim) beyond any log
        add(.absurd, "accept-round-2^64-1-decided-through-2^64-1", [.accept(ballot: top, proposals: [ip(1)], decidedThrough: max64)])
        // acceptor recovery: a blank acceptor's recoverState (barrier ballots no acceptor may raise its promise
        // to: beyond Ballot.maxRoundJump, not well-formed, proposer not 0), state answers nobody asked for,
        // presence notices, from acceptor ids outside 1...acceptor-count or with absurd fields
        add(.absurd, "recover-state-acceptors-0-4-2^32-1-barrier-round-2",
            outsiders.map { .recoverState(acceptor: $0, barrier: ballot(2, 0), request: 7) })
        for (round, name) in [(maxRound, "2^62"), (maxRound + 1, "2^62+1"), (max64, "2^64-1")] {
            add(.absurd, "recover-state-acceptors-1-3-barrier-round-\(name)",
                trio.map { .recoverState(acceptor: $0, barrier: ballot(round, 0), request: 7) })
        }
        add(.absurd, "recover-state-acceptors-1-3-barrier-round-2-proposer-999",
            trio.map { .recoverState(acceptor: $0, barrier: ballot(2, 999), request: 7) })
        add(.absurd, "acceptor-state-acceptors-0-4-2^32-1", outsiders.map { state(promise($0, real, from: 1)) })
        add(.absurd, "acceptor-state-acceptors-1-3-round-2^64-1-chunk-2^32-2-of-2^32-1", trio.map {
            state(promise($0, top, from: 1, chunk: max32 - 1, of: max32, [entry(1 << 62, top)], trimmed: 1 << 62))
        })
        add(.absurd, "acceptor-state-acceptors-1-3-trimmed-2^62", trio.map { state(promise($0, real, from: 1, trimmed: 1 << 62)) })
        add(.absurd, "present-acceptors-0-4-2^32-1", outsiders.map { .present(acceptor: $0) })

        // The same absurd instances at the decoder's limit (Wire.maxInstance = 2^62: anything beyond is
        // refused) and at 2^40: they decode, so the roles must cope with them.
        for (e, name) in [(UInt64(1) << 62, "2^62"), (UInt64(1) << 40, "2^40")] {
            add(.absurd, "accept-round-2^62-proposer-999-instance-\(name)", [.accept(ballot: hb, proposals: [ip(e)])])
            add(.absurd, "accept-round-1-proposer-999-instance-\(name)", [.accept(ballot: ballot(1, 999), proposals: [ip(e)])])
            add(.absurd, "accepted-acceptor-1-round-2^64-1-instance-\(name)", [.accepted(acceptor: 1, ballot: top, proposals: [ip(e)])])
            add(.absurd, "replay-acceptor-2-round-2^64-1-instance-\(name)", [.replay(acceptor: 2, entries: [entry(e, top)])])
            add(.absurd, "decided-instance-\(name)", [.decided([ip(e)])])
            add(.absurd, "heartbeat-round-1-proposer-999-first-\(name)", [.heartbeat(ballot: ballot(1, 999), firstUndecided: e)])
            add(.absurd, "catchup-learner-999-from-\(name)-to-2^64-1", [.catchUp(learner: 999, from: e, to: max64)])
            add(.absurd, "recover-learner-999-from-\(name)", [.recover(learner: 999, from: e)])
            add(.absurd, "recover-learner-1-from-\(name)", [.recover(learner: 1, from: e)])
            add(.absurd, "promise-acceptors-1-3-round-2^62-from-\(name)", trio.map { .promise(promise($0, hb, from: e, [entry(e, hb)])) })
        }

        // borderline: guess the real ballots (rounds 1...4 of proposers 1 and 2, incarnation 0), add absurd fields
        let guesses = (1...4).flatMap { r in [ballot(UInt64(r), 1), ballot(UInt64(r), 2)] }
        func toAll(_ each: (Ballot, UInt32) -> Message) -> [Message] { guesses.flatMap { g in trio.map { each(g, $0) } } }
        add(.borderline, "promise-real-ballots-chunk-count-2^32-1", toAll { .promise(promise($1, $0, from: 1, of: max32)) })
        add(.borderline, "promise-real-ballots-entry-instance-2^63", toAll { .promise(promise($1, $0, from: 1, [entry(1 << 63, real)])) })
        add(.borderline, "accept-real-ballots-instance-2^64-1", guesses.map { .accept(ballot: $0, proposals: [ip(max64)]) })
        add(.borderline, "accepted-real-ballots-acceptor-1-instance-2^63", guesses.map { .accepted(acceptor: 1, ballot: $0, proposals: [ip(1 << 63)]) })
        // a promise's trimmedThrough at the decoder's limit: a new leader's next instance would be 2^62+1,
        // which no acceptor can decode
        add(.borderline, "promise-real-ballots-trimmed-2^62", toAll { .promise(promise($1, $0, from: 1, trimmed: 1 << 62)) })
        for (e, name) in [(UInt64(1) << 62, "2^62"), (UInt64(1) << 40, "2^40")] {
            add(.borderline, "accept-real-ballots-instance-\(name)", guesses.map { .accept(ballot: $0, proposals: [ip(e)]) })
            add(.borderline, "accept-real-ballots-decided-through-\(name)", guesses.map { .accept(ballot: $0, proposals: [ip(e)], decidedThrough: e) })
            add(.borderline, "promise-real-ballots-entry-instance-\(name)", toAll { .promise(promise($1, $0, from: 1, [entry(e, real)])) })
        }

        // forged: what an unauthenticated cluster must believe. The forged value under a client id nobody
        // runs; instances 1...256 in 2B quorums under the first real ballots and an absurd one, `decided` for
        // the same instances, replays, a 2A, a submission, chosen notices, acceptor recovery.
        let forged = Proposal.batch([forgedSubmission])
        for lo in stride(from: UInt64(1), through: 225, by: 32) {
            let ips = (lo..<(lo + 32)).map { ip($0, forged) }
            for (b, name) in [(ballot(1, 1), "1.1"), (ballot(2, 1), "2.1"), (ballot(1, 2), "1.2"), (hb, "2^62.999")] {
                // 2Bs name values by digest: the forged 2A (which learners hear too) carries the value, the
                // quorum of 2Bs its digest — together what a learner would need to be fooled.
                add(.forged, "accepted-quorum-ballot-\(name)-instances-\(lo)-\(lo + 31)",
                    [.accept(ballot: b, proposals: ips)] + trio.map { .accepted(acceptor: $0, ballot: b, proposals: ips) })
            }
            add(.forged, "decided-instances-\(lo)-\(lo + 31)", [.decided(ips)])
        }
        add(.forged, "replay-quorum-instances-1-32", trio.map { a in
            .replay(acceptor: a, entries: (UInt64(1)...32).map { entry($0, ballot(1, 1), forged) })
        })
        add(.forged, "submit-forged-value", [.submit([forgedSubmission])])
        add(.forged, "accept-ballot-1.1-instances-1-32", [.accept(ballot: ballot(1, 1), proposals: (UInt64(1)...32).map { ip($0, forged) })])
        add(.forged, "prepare-round-2^62", [.prepare(ballot: hb, from: 1)])
        add(.forged, "chosen-for-clients-1-2", [.chosen(([1, 2] as [UInt32]).map { ChosenRun(client: $0, incarnation: 0, first: 1, count: 8) })])
        // acceptor recovery: ask every acceptor for its state (barrier zero: its promise only; round 5: raise
        // the promise to it, then send everything), a forged state answer (believed by an acceptor recovering
        // at that moment), presence notices
        add(.forged, "recover-state-acceptors-1-3-barrier-zero", trio.map { .recoverState(acceptor: $0, barrier: zero, request: 7) })
        add(.forged, "recover-state-acceptors-1-3-barrier-round-5", trio.map { .recoverState(acceptor: $0, barrier: ballot(5, 0), request: 7) })
        add(.forged, "acceptor-state-quorum-instances-1-32", trio.map { a in
            state(promise(a, ballot(1, 1), from: 1, (UInt64(1)...32).map { entry($0, ballot(1, 1), forged) }))
        })
        add(.forged, "present-acceptors-1-3", trio.map { .present(acceptor: $0) })

        // Fragments (messages longer than one datagram). Absurd: pieces no sender writes, pieces that
        // contradict each other or fail their digest once whole, a flood of incomplete messages that must
        // be evicted within the reassembly buffer's bounds, and a whole message from an acceptor nobody
        // runs. Forged: a 2B quorum for a long forged value, in fragments.
        func rawEntry(_ category: Category, _ name: String, _ datagrams: [[UInt8]]) {
            c.append(Entry(category: category, name: name, datagrams: datagrams))
        }
        func fragment(digest: UInt64 = 0xF00D, _ index: Int, of count: Int, total: Int, piece: Int = 100, fill: UInt8 = 7) -> [UInt8] {
            Wire.encode(Wire.Fragment(header: header, digest: digest, index: index, count: count, total: total,
                                      piece: ArraySlice(repeating: fill, count: piece)))
        }
        func inFragments(_ m: Message, piece: Int = 300) -> [[UInt8]] {
            Wire.datagrams(for: Wire.encode(m, header: header), header: header, datagramBytes: piece + Wire.fragmentOverhead)
        }
        let longForged = Submission(id: forgedSubmission.id, value: Array(repeating: forgedValue, count: 200).flatMap { $0 })
        let longAbsurd = Proposal.batch([Submission(id: SubmissionID(client: 999, incarnation: 1, sequence: 1), value: longForged.value)])
        rawEntry(.absurd, "fragment-index-beyond-count", [fragment(5, of: 2, total: 200)])
        rawEntry(.absurd, "fragment-count-1", [fragment(0, of: 1, total: 100)])
        rawEntry(.absurd, "fragment-count-beyond-total", [fragment(0, of: 300, total: 200)])
        rawEntry(.absurd, "fragment-total-beyond-the-limit", [fragment(0, of: 2, total: Wire.maxMessageBytes + 1)])
        rawEntry(.absurd, "fragment-empty-piece", [fragment(0, of: 2, total: 200, piece: 0)])
        rawEntry(.absurd, "fragment-piece-longer-than-total", [fragment(0, of: 2, total: 50)])
        rawEntry(.absurd, "fragments-contradicting-totals", [fragment(0, of: 2, total: 200), fragment(1, of: 2, total: 300)])
        rawEntry(.absurd, "fragments-overflowing-total", [fragment(0, of: 3, total: 200), fragment(1, of: 3, total: 200),
                                                         fragment(2, of: 3, total: 200)])
        rawEntry(.absurd, "fragments-resized-duplicate", [fragment(0, of: 2, total: 200), fragment(0, of: 2, total: 200, piece: 99)])
        rawEntry(.absurd, "fragments-whole-failing-its-digest", inFragments(.accept(ballot: real, proposals: [ip(1, .batch([longForged]))])).map {
            var d = $0
            d[d.count - 1] ^= 0xFF  // the last byte of every piece altered: the digest no longer matches
            return d
        })
        rawEntry(.absurd, "fragments-1100-incomplete-messages-of-16-MiB", (0..<1_100).map {
            fragment(digest: UInt64($0), 0, of: 16_000, total: 16 << 20, piece: 1_000)
        })
        rawEntry(.absurd, "fragments-replay-acceptor-999-long-value", inFragments(.replay(acceptor: 999,
                                                                                           entries: [entry(1, real, longAbsurd)])))
        rawEntry(.absurd, "fragments-of-a-fragment", 
            Wire.datagrams(for: fragment(0, of: 2, total: 2_000, piece: 1_000), header: header, datagramBytes: 300))
        // A 2A with a long forged value in fragments, sent three times (three proposers' worth), and a
        // quorum of 2Bs naming it by digest.
        let longIPs = (UInt64(1)...4).map { ip($0, .batch([longForged])) }
        rawEntry(.forged, "fragments-accepted-quorum-long-forged-value-instances-1-4", trio.flatMap { _ in
            inFragments(.accept(ballot: ballot(1, 1), proposals: longIPs), piece: 1_000)
        } + trio.map { Wire.encode(.accepted(acceptor: $0, ballot: ballot(1, 1), proposals: longIPs), header: header) })
        return c
    }

    /// The entries of `categories` whose names match one of `only` (when not empty) and none of `skip`
    /// (shell patterns, e.g. `*round-2^62-*`).
    public static func select(_ entries: [Entry], categories: Set<Category> = Set(Category.allCases),
                              skip: [String] = [], only: [String] = []) -> [Entry] {
        func matches(_ name: String, _ pattern: String) -> Bool { fnmatch(pattern, name, 0) == 0 }
        return entries.filter { e in
            categories.contains(e.category)
                && (only.isEmpty || only.contains { matches(e.name, $0) })
                && !skip.contains { matches(e.name, $0) }
        }
    }

    // MARK: junk

    /// Kinds of datagram a sprayer sends: generated junk, or the catalogue's entries in turn.
    public enum Kind: String, Sendable, CaseIterable {
        /// Random bytes of random lengths (0...65000; most short).
        case random
        /// Valid encodings cut short (never decodable: every strict prefix fails).
        case truncated
        /// Valid encodings followed by extra bytes (never decodable).
        case trailing
        /// Valid magic with unknown versions or types, bad magic, headers alone or cut short, bad header
        /// fields (unknown sender role, a fingerprint, id or incarnation beyond 32 bits, startedAt beyond 64).
        case header
        /// A valid header padded to 65000 bytes.
        case oversize
        /// Valid decided/2B messages, each with 5000 fresh far-future instances (2^40 on): what learners and
        /// proposers keep for them must stay bounded. Not in the default mix.
        case flood
        /// The catalogue's entries, in turn.
        case catalogue
    }

    /// The default mix against an unauthenticated cluster: everything that must be dropped.
    public static let defaultKinds: [Kind] = [.random, .truncated, .trailing, .header, .oversize, .catalogue]

    /// Generates the junk kinds from a seeded generator; every datagram claims ``sender`` where it has a
    /// header at all.
    public struct Junk<RNG: RandomNumberGenerator> {
        public var rng: RNG
        public let fingerprint: ClusterFingerprint
        private var samples: [[UInt8]]
        private var floodNext: UInt64
        /// Random bytes drawn once; junk takes windows of it (drawing 65000 bytes one by one per datagram
        /// made a sprayer in a debug build send a hundred datagrams a second).
        private let pool: [UInt8]

        public init(rng: RNG, fingerprint: ClusterFingerprint = .defaultSettings) {
            self.rng = rng
            self.fingerprint = fingerprint
            let header = Wire.Header(fingerprint: fingerprint, sender: HostileMessages.sender)
            samples = HostileMessages.validSamples.map { Wire.encode($0, header: header) }
            var r = rng
            floodNext = (1 << 40) + UInt64.random(in: 0..<(1 << 30), using: &r)
            var pool: [UInt8] = []
            pool.reserveCapacity(1 << 18)
            for _ in 0..<(1 << 15) {
                withUnsafeBytes(of: r.next()) { pool.append(contentsOf: $0) }
            }
            self.pool = pool
            self.rng = r
        }

        /// One datagram of `kind` (`catalogue` is the caller's: it has no generator).
        public mutating func next(_ kind: Kind) -> [UInt8] {
            switch kind {
            case .random: random()
            case .truncated: truncated()
            case .trailing: trailing()
            case .header: header()
            case .oversize: oversize()
            case .flood: flood()
            case .catalogue: preconditionFailure("catalogue entries are not generated")
            }
        }

        private mutating func below(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
        /// `n` random bytes (at most 65536 distinct windows of the pool: plenty for junk).
        private mutating func bytes(_ n: Int) -> [UInt8] {
            let start = below(pool.count - n + 1)
            return Array(pool[start..<(start + n)])
        }
        private mutating func sample() -> [UInt8] { samples[below(samples.count)] }
        private mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

        /// The header after the type byte: fingerprint, then the sender (role byte, id, incarnation, startedAt),
        /// with any field as a full 64-bit varint.
        private func senderHeader(acceptors: UInt64, learners: UInt64, role: UInt8, id: UInt64, incarnation: UInt64,
                                  startedAt: UInt64) -> [UInt8] {
            Wire.varint(acceptors) + Wire.varint(learners) + [role] + Wire.varint(id) + Wire.varint(incarnation) + Wire.varint(startedAt)
        }

        private var properHeader: [UInt8] {
            let s = HostileMessages.sender
            return senderHeader(acceptors: UInt64(fingerprint.acceptorCount), learners: UInt64(fingerprint.learnerCount),
                                role: 4, id: UInt64(s.id), incarnation: UInt64(s.incarnation), startedAt: s.startedAt)
        }

        mutating func random() -> [UInt8] {
            let n = pick([below(8), below(64), below(1_500), below(65_001)])
            var d = bytes(n)
            // A random valid header could, in theory, decode as a forged submit.
            if d.count >= 4 && d[0] == Wire.magic.0 && d[1] == Wire.magic.1 && d[2] == Wire.version && (1...Self.maxType).contains(d[3]) {
                d[0] = UInt8(ascii: "Q")
            }
            return d
        }

        mutating func truncated() -> [UInt8] {
            let s = sample()
            return Array(s.prefix(below(s.count)))
        }

        mutating func trailing() -> [UInt8] { sample() + bytes(1 + below(8)) }

        mutating func header() -> [UInt8] {
            let px: [UInt8] = [Wire.magic.0, Wire.magic.1, Wire.version]
            let hdr = properHeader
            let k = below(9)
            switch k {
            case 0:
                // another version (1 to 3: older formats; 5: a newer one) before random bytes or a valid body
                let v = pick([0, 1, 2, 3, 5, 0x7F, 0xFF] as [UInt8])
                if below(2) == 1 {
                    return [Wire.magic.0, Wire.magic.1, v, UInt8(1 + below(Int(Self.maxType)))] + bytes(below(40))
                }
                var s = sample()
                s[2] = v
                return s
            case 1:
                return px + [pick([0, Self.maxType + 1, Self.maxType + 2, 100, 0xFF])] + hdr + bytes(below(40))
            case 2:
                return bytes(2) + [Wire.version, UInt8(1 + below(Int(Self.maxType)))] + hdr + [0, 0, 0, 0]
            case 3:
                return px  // too short
            case 4:
                // the type byte alone, cut inside the header, or the whole header: every type needs fields
                return px + [UInt8(1 + below(Int(Self.maxType)))] + Array(hdr.prefix(below(hdr.count + 1)))
            case 5:
                // an overlong varint field: 11 continuation bytes
                return px + [Self.catchUpType] + hdr + [1] + [UInt8](repeating: 0x80, count: 10) + [0]
            default:
                break
            }
            let s = sample()
            let body = Array(s[(Wire.headerSize + hdr.count)...])
            let s0 = HostileMessages.sender
            var f = (UInt64(fingerprint.acceptorCount), UInt64(fingerprint.learnerCount))
            var who = (UInt64(s0.id), UInt64(s0.incarnation))
            if k == 6 {
                // an unknown sender role
                var d = s
                d[Wire.headerSize + Wire.varint(f.0).count + Wire.varint(f.1).count] = pick([0, 5, 0x7F, 0xFF])
                return d
            }
            if k == 7 {
                // a fingerprint, sender id or incarnation beyond 32 bits (startedAt is 64 bits)
                let wide = pick([UInt64(UInt32.max) + 1, UInt64.max])
                switch below(4) {
                case 0: f.0 = wide
                case 1: f.1 = wide
                case 2: who.0 = wide
                default: who.1 = wide
                }
                return Array(s.prefix(Wire.headerSize))
                    + senderHeader(acceptors: f.0, learners: f.1, role: 4, id: who.0, incarnation: who.1, startedAt: s0.startedAt)
                    + body
            }
            // a startedAt varint overflowing 64 bits (its tenth byte above 1)
            let head = senderHeader(acceptors: f.0, learners: f.1, role: 4, id: who.0, incarnation: who.1, startedAt: 0).dropLast()
            return Array(s.prefix(Wire.headerSize)) + head + [UInt8](repeating: 0xFF, count: 9) + [UInt8(2 + below(0x7E))] + body
        }

        mutating func oversize() -> [UInt8] {
            // a valid header and a decided list whose count claims more items than bytes left, 65000 bytes in all
            let h = Array(Wire.encode(.decided([]), header: Wire.Header(fingerprint: fingerprint, sender: HostileMessages.sender)).dropLast())
                + Wire.varint(.max)
            return h + bytes(65_000 - h.count)
        }

        mutating func flood() -> [UInt8] {
            // Absurd far-future instances, fresh ones every time, 5000 per datagram: a decided list, or 2B
            // votes from a valid acceptor id under an impossible ballot.
            let lo = floodNext
            floodNext += 5_000
            let ips = (lo..<(lo + 5_000)).map { InstanceProposal(instance: $0, proposal: .noop) }
            let header = Wire.Header(fingerprint: fingerprint, sender: HostileMessages.sender)
            if below(2) == 1 { return Wire.encode(.decided(ips), header: header) }
            return Wire.encode(.accepted(acceptor: UInt32(1 + below(3)), ballot: Ballot(round: .max, proposer: 999), proposals: ips),
                               header: header)
        }

        static var maxType: UInt8 { 17 }
        static var catchUpType: UInt8 { 10 }
    }

    /// A few valid messages to cut or extend: never sent whole.
    static var validSamples: [Message] {
        let b = Ballot(round: 3, proposer: 1)
        func sub(_ c: UInt32, _ i: UInt64, _ s: UInt64, _ v: String) -> Submission {
            Submission(id: SubmissionID(client: c, incarnation: i, sequence: s), value: Array(v.utf8))
        }
        return [
            .submit([sub(1, 2, 3, "12345"), sub(2, 3, 4, "")]),
            .chosen([ChosenRun(client: 1, incarnation: 2, first: 3, count: 1), ChosenRun(client: 4, incarnation: 5, first: 6, count: 300)]),
            .prepare(ballot: b, from: 1),
            .nack(acceptor: 2, promised: b),
            .accept(ballot: b, proposals: [InstanceProposal(instance: 7, proposal: .batch([sub(1, 2, 3, "123")]))], decidedThrough: 6),
            .accepted(acceptor: 3, ballot: b, proposals: [InstanceProposal(instance: 7, proposal: .noop)]),
            .replay(acceptor: 1, entries: [AcceptedEntry(instance: 2, ballot: b, proposal: .noop)]),
            .heartbeat(ballot: b, firstUndecided: 9),
            .catchUp(learner: 2, from: 1, to: 513),
            .decided([InstanceProposal(instance: 4, proposal: .noop)]),
            .recover(learner: 1, from: 4),
            .promise(Promise(acceptor: 2, ballot: b, from: 5, answer: 12_345, chunk: 0, chunkCount: 1, trimmedThrough: 4,
                             accepted: [AcceptedEntry(instance: 5, ballot: Ballot(round: 2, proposer: 1), proposal: .noop)])),
            .progress(learner: 1, delivered: 4),
            .trimmed(acceptor: 3, through: 4),
            .recoverState(acceptor: 2, barrier: Ballot(round: 4, proposer: 0), request: 7),
            .acceptorState(Promise(acceptor: 1, ballot: b, from: 5, answer: 99, chunk: 0, chunkCount: 1, trimmedThrough: 4,
                                   accepted: [AcceptedEntry(instance: 5, ballot: b, proposal: .batch([sub(1, 2, 3, "4")]))]),
                           recovering: false, request: 7),
            .present(acceptor: 3),
        ]
    }
}
