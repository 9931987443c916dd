// `paxos-fuzz` without libFuzzer (`swift build --product paxos-fuzz`): writes the seed corpus, replays
// inputs through the same checks as the libFuzzer entry, decodes hex lines, and runs a seeded,
// structure-aware generator of messages with absurd fields. Built with -DPAXOS_LIBFUZZER (scripts/fuzz.sh)
// the product is the libFuzzer harness instead (FuzzTarget.swift) and this file is left out.
//
//   paxos-fuzz corpus DIR            write the seed corpus (valid encodings, a few sequences)
//   paxos-fuzz replay [-q] FILE...   run each file through the harness's checks (-q: silently)
//   paxos-fuzz decode                read hex datagrams, one a line, print what each decodes to
//   paxos-fuzz generate N [SEED]     N structured inputs (absurd fields and headers, mutations, sequences)
//   paxos-fuzz catalogue [--only P]  the hostile-message catalogue (Sources/PaxosTesting/HostileMessages.swift)
//   paxos-fuzz absurd < CATALOGUE    replay that catalogue in a simulated cluster (Absurd.swift)
//   paxos-fuzz simulate N [SEED]     the simulator's random schedules SEED..<SEED+N (default 1), one shard a core

#if !PAXOS_LIBFUZZER
import Foundation
import PaxosCore
import PaxosTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n > 0 { out.append(contentsOf: buf[0..<n]) }
        if n < buf.count { break }
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    guard let f = fopen(path, "wb") else { fputs("cannot write \(path)\n", stderr); exit(1) }
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

func hex(_ b: [UInt8]) -> String {
    b.map { x in let s = String(x, radix: 16); return s.count == 1 ? "0" + s : s }.joined()
}

func unhex(_ s: Substring) -> [UInt8]? {
    let chars = Array(s.utf8).filter { $0 != 0x20 }
    guard chars.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let hi = hexDigit(chars[i]), let lo = hexDigit(chars[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// One decoded datagram (or the error), for `replay` and `decode`.
func describe(_ r: Result<Wire.Datagram, Wire.DecodeError>) -> String {
    switch r {
    case .success(let d):
        "ok from \(d.header.sender) [\(d.header.fingerprint)]: \(d.message)"
    case .failure(let e):
        "error \(FuzzDriver.describe(e)): \(e)"
    }
}

func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x61...0x66: c - 0x61 + 10
    case 0x41...0x46: c - 0x41 + 10
    default: nil
    }
}

// MARK: seed corpus

/// Who the harness's processes are, and the ballots that matter, read off its warmed-up stages.
enum Cast {
    typealias D = FuzzDriver
    static let fingerprint = D.config.settings.fingerprint
    static let lead = D.cluster(.leading)

    /// The header of the harness's process playing `role` `id` in the `leading` stage (acceptor 3's of the
    /// `recovering` stage is another: it restarted), else of a process the harness does not run.
    static func header(_ role: Role, _ id: UInt32, in sim: Simulation = lead) -> Wire.Header {
        guard sim.processes.contains(where: { $0.role == role && $0.id == id }) else {
            return Wire.Header(fingerprint: fingerprint, sender: Sender(role: role, id: id, incarnation: 300 + id, startedAt: 1))
        }
        return Wire.Header(fingerprint: fingerprint, sender: sim.process(role, id).sender)
    }

    static let headers: [Wire.Header] = D.Stage.allCases.flatMap { stage in
        D.cluster(stage).processes.map { Wire.Header(fingerprint: fingerprint, sender: $0.sender) }
    }

    /// The leading stage's leader and its ballot.
    static let leader: Simulation.Process = {
        guard let p = lead.processes.first(where: { $0.proposer?.mode == .leader }) else {
            fatalError("the fuzzer's leading stage has no leader: \(lead.progressSummary)")
        }
        return p
    }()
    static var leaderBallot: Ballot { leader.proposer!.ballot }
    /// A ballot another proposer would try next.
    static var candidate: Simulation.Process { lead.process(.proposer, leader.id == 2 ? 3 : 2) }
    static var candidateBallot: Ballot {
        Ballot(round: leaderBallot.round + 1, proposer: candidate.id, incarnation: candidate.sender.incarnation)
    }
}

func sub(_ client: UInt32, _ seq: UInt64, _ v: String) -> Submission {
    Submission(id: SubmissionID(client: client, incarnation: 7, sequence: seq), value: Array(v.utf8))
}

func seedCorpus() -> [(String, [UInt8])] {
    typealias C = Cast
    let lb = C.leaderBallot, cb = C.candidateBallot
    let s1 = sub(1, 1, "1234"), s2 = sub(2, 5, "32767")
    let batch = Proposal.batch([s1, s2])
    let e1 = AcceptedEntry(instance: 1, ballot: lb, proposal: batch)
    let e2 = AcceptedEntry(instance: 2, ballot: lb, proposal: .noop)
    let ip1 = InstanceProposal(instance: 1, proposal: batch)
    let ip5 = InstanceProposal(instance: 5, proposal: .batch([s1]))
    func promise(_ a: UInt32, _ b: Ballot, from: Instance = 1, answer: UInt64 = 5, chunk: UInt32 = 0, of count: UInt32 = 1,
                 trimmed: Instance = 0, _ entries: [AcceptedEntry]) -> Promise {
        Promise(acceptor: a, ballot: b, from: from, answer: answer, chunk: chunk, chunkCount: count,
                trimmedThrough: trimmed, accepted: entries)
    }
    let any = FuzzDriver.anyRequest
    let h1 = C.header(.acceptor, 1), h2 = C.header(.acceptor, 2), h3 = C.header(.acceptor, 3)
    let leader = C.header(.proposer, C.leader.id), candidate = C.header(.proposer, C.candidate.id)
    // Each message with the header of the process that would send it (the harness's own where it runs one).
    let singles: [(String, Message, Wire.Header)] = [
        ("submit", .submit([s1, s2]), C.header(.client, 2)),
        ("chosen", .chosen(ChosenRun.runs(of: [s1.id, s2.id])), leader),
        ("prepare", .prepare(ballot: cb, from: 1), candidate),
        ("promise", .promise(promise(2, cb, [e1, e2])), h2),
        ("nack", .nack(acceptor: 2, promised: Ballot(round: cb.round + 1, proposer: cb.proposer, incarnation: cb.incarnation)), h2),
        ("accept", .accept(ballot: lb, proposals: [ip1, ip5], decidedThrough: 2), leader),
        ("accepted", .accepted(acceptor: 2, ballot: lb, proposals: [ip5]), h2),
        ("replay", .replay(acceptor: 3, entries: [e1, e2]), h3),
        ("heartbeat", .heartbeat(ballot: cb, firstUndecided: 4), candidate),
        ("catchup", .catchUp(learner: 2, from: 1, to: 513), C.header(.learner, 2)),
        ("decided", .decided([InstanceProposal(instance: 3, proposal: .noop), ip5]), C.header(.learner, 2)),
        ("recover", .recover(learner: 2, from: 1), C.header(.learner, 2)),
        ("progress", .progress(learner: 2, delivered: 520), C.header(.learner, 2)),
        ("trimmed", .trimmed(acceptor: 3, through: 1024), h3),
        ("recover-state", .recoverState(acceptor: 3, barrier: .zero, request: 5), h3),
        ("acceptor-state", .acceptorState(promise(1, lb, from: 0, []), recovering: false, request: any), h1),
        ("present", .present(acceptor: 2, promised: lb), h2),
    ]
    var out = singles.map { ($0.0, Wire.encode($0.1, header: $0.2)) }
    // Headers the admission rules refuse: another cluster's fingerprint, and a NEWER process playing
    // acceptor 1 (acceptor 1 stops; its older twin would only be dropped).
    var foreign = candidate
    foreign.fingerprint.acceptorCount = 5
    out.append(("header-foreign-cluster", Wire.encode(.heartbeat(ballot: Ballot(round: 9, proposer: 3), firstUndecided: 1), header: foreign)))
    var twin = h1
    twin.sender.incarnation &+= 1000
    twin.sender.startedAt = 1_000_000_000
    out.append(("header-newer-twin", Wire.encode(.present(acceptor: 1, promised: .zero), header: twin)))
    // Sequences (the harness cuts before every "PX\u{2}"): a quorum of promises for a candidate, a quorum
    // of 2B votes, a 2A answered by an acceptor, and a recovery: two state answers fix a recovering
    // acceptor's barrier, two more above it rebuild its state (each echoing the request of its step:
    // `anyRequest`), or, from newer blank twins of acceptors 1 and 2, one blank answer: a new cluster.
    func seq(_ name: String, _ ms: [(Message, Wire.Header)]) {
        out.append((name, ms.flatMap { Wire.encode($0.0, header: $0.1) }))
    }
    seq("seq-promises", [
        (.promise(promise(2, cb, [e1])), h2),
        (.promise(promise(3, cb, answer: 9, chunk: 0, of: 2, [e2])), h3),
        (.promise(promise(3, cb, answer: 9, chunk: 1, of: 2, [])), h3),
    ])
    seq("seq-votes", [
        (.accepted(acceptor: 2, ballot: lb, proposals: [ip5]), h2),
        (.accepted(acceptor: 3, ballot: lb, proposals: [ip5]), h3),
    ])
    let ip6 = InstanceProposal(instance: 6, proposal: .batch([s2]))
    seq("seq-accept-vote", [
        (.accept(ballot: lb, proposals: [ip6], decidedThrough: 2), leader),
        (.accepted(acceptor: 2, ballot: lb, proposals: [ip6]), h2),
    ])
    seq("seq-nack-recover", [
        (.nack(acceptor: 3, promised: Ballot(round: 9, proposer: 3, incarnation: 33)), h3),
        (.recover(learner: 2, from: 1), C.header(.learner, 2)),
    ])
    let barrier = Ballot.barrier(above: lb)
    seq("seq-recovery", [
        (.acceptorState(promise(1, lb, from: 0, answer: 1, []), recovering: false, request: any), h1),
        (.acceptorState(promise(2, lb, from: 0, answer: 2, []), recovering: false, request: any), h2),
        (.acceptorState(promise(1, barrier, from: 1, answer: 3, [e1, e2]), recovering: false, request: any), h1),
        (.acceptorState(promise(2, barrier, from: 1, answer: 4, [e2]), recovering: false, request: any), h2),
    ])
    func newer(_ h: Wire.Header) -> Wire.Header {
        var h = h
        h.sender.incarnation &+= 1000
        h.sender.startedAt = 1_000_000_000
        return h
    }
    seq("seq-recovery-fresh", [
        (.present(acceptor: 1, promised: .zero), newer(h1)),
        (.present(acceptor: 2, promised: .zero), newer(h2)),
        (.acceptorState(promise(2, .zero, from: 0, answer: 2, []), recovering: true, request: any), newer(h2)),
    ])
    // A 2B vote of acceptors 2 and 3 for a value longer than a datagram, each in fragments.
    let long = sub(1, 9, String(repeating: "v", count: 2_000))
    let ip9 = InstanceProposal(instance: 9, proposal: .batch([long]))
    out.append(("seq-fragments", [h2, h3].flatMap { h in
        Wire.datagrams(for: Wire.encode(.accepted(acceptor: h.sender.id, ballot: lb, proposals: [ip9]), header: h),
                       header: h, datagramBytes: 700).flatMap { $0 }
    }))
    return out
}

// MARK: structured generator

struct Gen {
    var rng: SplitMix64
    mutating func next() -> UInt64 { rng.next() }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    static let absurd64: [UInt64] = [0, 1, 2, 3, 4, 5, 127, 128, 511, 512, 513, 1 << 24, 1 << 24 + 1, 1 << 31,
                                     1 << 32 - 1, 1 << 32, 1 << 40, 1 << 61, 1 << 62 - 1, 1 << 62, 1 << 62 + 1,
                                     1 << 63 - 1, 1 << 63, 1 << 63 + 1, .max - 1_000_000, .max - 512, .max - 1, .max]
    static let absurd32: [UInt32] = [0, 1, 2, 3, 4, 5, 63, 64, 65, 999, 1 << 31, .max - 1, .max]

    mutating func u64() -> UInt64 {
        switch below(3) {
        case 0: Gen.absurd64[below(Gen.absurd64.count)]
        case 1: next() % 16
        default: next() >> UInt64(below(64))
        }
    }
    mutating func u32() -> UInt32 { chance(60) ? Gen.absurd32[below(Gen.absurd32.count)] : UInt32(truncatingIfNeeded: next() >> UInt64(below(64))) }
    mutating func ballot() -> Ballot {
        switch below(8) {
        case 0, 1: return Cast.leaderBallot
        case 2: return Cast.candidateBallot
        case 3: return Ballot.barrier(above: Cast.leaderBallot)  // what a recovering acceptor asks for
        case 4:
            let p = Cast.lead.process(.proposer, UInt32(1 + below(3)))
            return Ballot(round: 1 + next() % 4, proposer: p.id, incarnation: chance(50) ? p.sender.incarnation : 0)
        default: return Ballot(round: u64(), proposer: u32(), incarnation: chance(50) ? 0 : u32())
        }
    }
    /// A state answer's request: mostly `FuzzDriver.anyRequest` (the driver makes it echo what a
    /// recovering acceptor asks now), else anything.
    mutating func request() -> UInt64 { chance(70) ? FuzzDriver.anyRequest : u64() }
    mutating func instance() -> Instance { chance(50) ? next() % 12 : u64() }
    mutating func submission() -> Submission {
        let n = chance(80) ? below(6) : below(300)
        return Submission(id: SubmissionID(client: u32(), incarnation: chance(50) ? 7 : u64(), sequence: u64()),
                          value: (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) })
    }
    mutating func list<T>(_ max: Int, _ f: (inout Gen) -> T) -> [T] { (0..<below(max + 1)).map { _ in f(&self) } }
    mutating func proposal() -> Proposal { chance(30) ? .noop : .batch(list(3) { $0.submission() }) }
    mutating func ip() -> InstanceProposal { InstanceProposal(instance: instance(), proposal: proposal()) }
    mutating func entry() -> AcceptedEntry { AcceptedEntry(instance: instance(), ballot: ballot(), proposal: proposal()) }
    mutating func acceptor() -> UInt32 { chance(60) ? UInt32(1 + below(3)) : u32() }
    mutating func learner() -> UInt32 { chance(50) ? UInt32(1 + below(2)) : u32() }
    mutating func promise(stateAnswer: Bool) -> Promise {
        let count = chance(70) ? UInt32(1 + below(3)) : u32()
        let chunk = count == 0 ? 0 : (chance(70) ? UInt32(below(Int(min(count, 3)))) : count - 1)
        let from: Instance = stateAnswer ? (chance(40) ? 0 : chance(70) ? 1 : instance()) : (chance(70) ? 1 : instance())
        return Promise(acceptor: acceptor(), ballot: stateAnswer && chance(30) ? .zero : ballot(), from: from,
                       answer: chance(60) ? next() % 4 : next(), chunk: chunk, chunkCount: max(count, 1),
                       trimmedThrough: chance(70) ? 0 : instance(), accepted: list(4) { $0.entry() })
    }

    mutating func message() -> Message {
        switch below(17) {
        case 0: return .submit(list(4) { $0.submission() })
        case 1:
            return .chosen(list(4) { g in
                let id = g.submission().id
                let first = max(id.sequence, 1)
                let count = first > UInt64.max - 512 || g.chance(60) ? 1 : UInt64(g.below(512)) + 1
                return ChosenRun(client: id.client, incarnation: id.incarnation, first: first, count: count)
            })
        case 2: return .prepare(ballot: ballot(), from: instance())
        case 3: return .promise(promise(stateAnswer: false))
        case 4: return .nack(acceptor: acceptor(), promised: ballot())
        case 5: return .accept(ballot: ballot(), proposals: list(4) { $0.ip() }, decidedThrough: chance(50) ? 0 : instance())
        case 6: return .accepted(acceptor: acceptor(), ballot: ballot(), proposals: list(4) { $0.ip() })
        case 7: return .replay(acceptor: acceptor(), entries: list(4) { $0.entry() })
        case 8: return .heartbeat(ballot: ballot(), firstUndecided: instance())
        case 9: return .catchUp(learner: learner(), from: instance(), to: instance())
        case 10: return .decided(list(4) { $0.ip() })
        case 11: return .recover(learner: learner(), from: instance())
        case 12: return .progress(learner: learner(), delivered: instance())
        case 13: return .trimmed(acceptor: acceptor(), through: instance())
        case 14: return .recoverState(acceptor: acceptor(), barrier: chance(40) ? .zero : ballot(), request: u64())
        case 15: return .acceptorState(promise(stateAnswer: true), recovering: chance(30), request: request())
        default: return .present(acceptor: acceptor(), promised: chance(40) ? .zero : ballot())
        }
    }

    /// The header: mostly one the harness's roles admit (an outsider, or one of their own identities), now
    /// and then one they refuse (another cluster's fingerprint, an older twin) or that stops one of them
    /// (a newer twin).
    mutating func header() -> Wire.Header {
        let own = Cast.headers[below(Cast.headers.count)]
        switch below(100) {
        case 0..<40: return Wire.Header(fingerprint: Cast.fingerprint, sender: Sender(role: .client, id: 999, incarnation: 7, startedAt: 0))
        case 40..<70: return own
        case 70..<80:
            return Wire.Header(fingerprint: Cast.fingerprint,
                               sender: Sender(role: Role.allCases[below(4)], id: u32(), incarnation: u32(), startedAt: u64()))
        case 80..<88:  // an older twin
            var h = own
            h.sender.incarnation = u32()
            h.sender.startedAt = next() % max(h.sender.startedAt, 1)
            return h
        case 88..<94:
            var h = own
            h.fingerprint = ClusterFingerprint(acceptorCount: chance(50) ? 3 : u32(), learnerCount: chance(50) ? 2 : u32())
            return h
        default:  // a newer twin, or the same process
            var h = own
            h.sender.incarnation = u32()
            h.sender.startedAt = h.sender.startedAt &+ (chance(50) ? 0 : u64())
            return h
        }
    }

    mutating func datagram() -> [UInt8] {
        let bytes = Wire.encode(message(), header: header())
        guard chance(10) else { return bytes }
        // Now and then one fragment of it, as a message longer than a datagram travels.
        let pieces = Wire.datagrams(for: bytes, header: header(), datagramBytes: Wire.fragmentOverhead + 1 + below(64))
        return pieces[below(pieces.count)]
    }

    /// Over-long varint forms, bit flips, truncation, insertion.
    mutating func mutate(_ b: inout [UInt8]) {
        for _ in 0...below(3) {
            let at = below(b.count + 1)
            switch below(6) {
            case 0 where at < b.count: b[at] = UInt8(truncatingIfNeeded: next())
            case 1 where at < b.count: b[at] ^= 1 << UInt8(below(8))
            case 2 where at < b.count: b.remove(at: at)
            case 3: b.insert(UInt8(truncatingIfNeeded: next()), at: at)
            case 4 where at < b.count && b[at] < 0x80: b[at] |= 0x80; b.insert(0, at: at + 1)  // non-canonical varint
            default: b.removeLast(min(b.count, below(6)))
            }
        }
    }
}

// MARK: main

@main
struct Tool {
    static func main() {
        let args = CommandLine.arguments
        guard args.count >= 2 else { usage() }
        switch args[1] {
        case "corpus":
            guard args.count == 3 else { usage() }
            for (name, bytes) in seedCorpus() {
                for piece in FuzzDriver.segments(bytes) {
                    if case .failure(let e) = Wire.decodeDatagram(Array(piece)) {
                        fputs("seed \(name) does not decode: \(e)\n", stderr)
                        exit(1)
                    }
                }
                writeFile("\(args[2])/\(name)", bytes)
            }
        case "replay":
            var stats = FuzzStats()
            let quiet = args.count > 2 && args[2] == "-q"
            for path in args.dropFirst(quiet ? 3 : 2) {
                guard let bytes = readFile(path) else { fputs("cannot read \(path)\n", stderr); exit(1) }
                if quiet { FuzzDriver.one(bytes, stats: &stats); continue }
                print("\(path): \(bytes.count) bytes: \(hex(Array(bytes.prefix(64))))\(bytes.count > 64 ? "..." : "")")
                for p in FuzzDriver.segments(bytes) { print("  " + describe(Wire.decodeDatagram(Array(p)))) }
                let before = stats
                FuzzDriver.one(bytes, stats: &stats)
                print("  ok in \(FuzzDriver.Stage.allCases.count) stages: \(stats.recoveries - before.recoveries) recoveries of acceptor 3 "
                      + "completed, \(stats.displaced - before.displaced) stages with a process stopped by a newer twin")
            }
        case "decode":
            while let line = readLine() {
                guard let bytes = unhex(line[...]) else { print("bad hex"); continue }
                print(describe(Wire.decodeDatagram(bytes)))
            }
        case "generate":
            guard args.count >= 3, let n = Int(args[2]) else { usage() }
            let seed = args.count >= 4 ? UInt64(args[3]) ?? 1 : 1
            var g = Gen(rng: SplitMix64(seed: seed))
            var stats = FuzzStats()
            var mutated = 0
            let seeds = seedCorpus().map(\.1)
            let start = clock()
            for k in 0..<n {
                var bytes: [UInt8] = []
                // Now and then a seed (the sequences reach states one datagram cannot), with more after it.
                if g.chance(10) { bytes = seeds[g.below(seeds.count)] }
                for _ in 0...(g.chance(70) ? 0 : g.below(6)) { bytes += g.datagram() }
                if g.chance(40) { g.mutate(&bytes); mutated += 1 }
                if g.chance(3) { bytes = (0..<g.below(80)).map { _ in UInt8(truncatingIfNeeded: g.next()) } }
                FuzzDriver.one(bytes, stats: &stats)
                if (k + 1) % 100_000 == 0 {
                    let secs = Double(clock() - start) / Double(CLOCKS_PER_SEC)
                    print("#\(k + 1) \(Int(Double(k + 1) / secs)) inputs/s, decoded \(stats.decoded)")
                }
            }
            let secs = Double(clock() - start) / Double(CLOCKS_PER_SEC)
            print("generate: \(stats.inputs) inputs (seed \(seed)) in \(Int(secs)) s, \(Int(Double(stats.inputs) / max(secs, 0.001))) inputs/s")
            print("  mutated \(mutated); datagrams decoded \(stats.decoded) (non-canonical \(stats.nonCanonical)); "
                  + "pieces injected \(stats.injected); acceptor 3 recovered in \(stats.recoveries) runs; "
                  + "a process stopped by a newer twin in \(stats.displaced) runs; values learner 1 printed \(stats.delivered)")
            print("  decode errors: " + stats.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        case "simulate":
            // The simulator's random schedules, as SimulatorTests.randomSchedules runs them, in this (release)
            // build: scripts/test.sh runs 10,000 here in a fraction of the debug test binary's time.
            guard args.count >= 3, args.count <= 4, let count = UInt64(args[2]),
                  let base = args.count == 4 ? UInt64(args[3]) : 1 else { usage() }
            let schedules = RandomSchedules(count: count, base: base, shards: UInt64(max(1, ProcessInfo.processInfo.activeProcessorCount)))
            let started = Date()
            let outcome = schedules.run()
            let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
            print("simulator: ran \(outcome.ran) of \(count) schedules from seed \(base) (\(outcome.messagesDelivered) messages delivered) in \(seconds) s")
            for failure in outcome.failures { fputs("\(failure)\n", stderr) }
            if outcome.ran != count { exit(1) }
        case "absurd":
            AbsurdMode.run()
        case "catalogue":
            // The shared catalogue (Sources/PaxosTesting/HostileMessages.swift), a line an entry:
            // "category<TAB>name<TAB>hex[,hex...]"; options --only/--skip PATTERNS, --category C,... (all).
            var only: [String] = [], skip: [String] = []
            var categories = Set(HostileMessages.Category.allCases)
            var k = 2
            while k + 1 < args.count {
                let list = args[k + 1].split(separator: ",").map(String.init)
                switch args[k] {
                case "--only": only += list
                case "--skip": skip += list
                case "--category": categories = Set(list.compactMap(HostileMessages.Category.init(rawValue:)))
                default: usage()
                }
                k += 2
            }
            guard k == args.count else { usage() }
            for e in HostileMessages.select(HostileMessages.catalogue(), categories: categories, skip: skip, only: only) {
                print("\(e.category.rawValue)\t\(e.name)\t" + e.datagrams.map(hex).joined(separator: ","))
            }
        default:
            usage()
        }
    }

    static func usage() -> Never {
        fputs("usage: paxos-fuzz corpus DIR | replay FILE... | decode | generate N [SEED] | simulate N [FIRST_SEED] | absurd < CATALOGUE | catalogue [--only|--skip PATTERNS] [--category C,...]\n", stderr)
        exit(2)
    }
}
#endif
