// The fuzzing driver shared by the libFuzzer harness (FuzzTarget.swift) and the seeded tool (Tool.swift).
//
// Compiled in ONE module together with Sources/PaxosCore/*.swift (see scripts/fuzz.sh), so it reaches the
// core's internals (Wire.Writer, chunked, ...) without `@testable`.
//
// One input is a byte string. It is checked two ways:
//
//  1. As one datagram: `Wire.decode` must return (never trap). If it succeeds, the message re-encodes to
//     bytes that decode to the same message, the re-encoding is never longer than the input (the only
//     non-canonical forms the decoder accepts are over-long varints, which are strictly longer), and
//     when no shorter form exists the re-encoding is byte-identical.
//  2. As a sequence of datagrams: the input is cut before every "PX\u{1}" (a header), and each piece that
//     decodes is delivered to a small cluster of role state machines put into interesting states first
//     (an acceptor holding votes, a learner that delivered instances, a leader with values in flight, a
//     candidate waiting for promises, a follower, a client with values outstanding). What they send is
//     re-encoded, decoded and routed to the roles listening to its group, with a fixed budget, and then
//     the clock advances over every timeout (retries, probes, recover, elections). No role may trap, no
//     message a role sends may fail to round-trip, and learners' outputs must stay consistent.

/// Counters for the tool's summary (the libFuzzer harness ignores them).
struct FuzzStats {
    var inputs = 0
    var decoded = 0
    var nonCanonical = 0
    var segmentsDelivered = 0
    var routed = 0
    var deliveries = 0
    var errors: [String: Int] = [:]
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Known bugs the driver can step around (so a long run looks for new ones), each counted when it does.
/// `PAXOS_FUZZ_GUARD` unset: step around the OPEN ones only; `0`: none; `1`: all, also the fixed ones
/// (BUG 1-3, fixed by 556ebdd and aeb0746), e.g. to fuzz an older build.
enum KnownBugs {
    static let level: Int = {
        guard let v = getenv("PAXOS_FUZZ_GUARD") else { return 1 }
        return String(cString: v) == "0" ? 0 : 2
    }()
    static var enabled: Bool { level == 2 }
    static var openEnabled: Bool { level >= 1 }
    nonisolated(unsafe) static var hits: [String: Int] = [:]
    nonisolated(unsafe) static var reported = false

    static func hit(_ name: String) {
        hits[name, default: 0] += 1
        if !reported {
            reported = true
            atexit { KnownBugs.report() }
        }
    }

    static func report() {
        guard !hits.isEmpty else { return }
        for (name, n) in hits.sorted(by: { $0.key < $1.key }) {
            fputs("known bug stepped around \(n) times: \(name)\n", stderr)
        }
    }

    /// Why the driver must not give `m` to `p` (a known bug), or nil.
    static func check(_ m: Message, for p: Paxos.Proposer) -> String? {
        if openEnabled, let open = checkOpen(m, for: p) { return open }
        guard enabled else { return nil }
        // BUG 1: becomeLeader loops `for i in prepareFrom...highest` over the highest instance any
        // promise reports, and puts every instance of that range in flight at once (no window): a vote
        // for instance 2^63 (accepted by an acceptor from a forged or absurd 2A) makes the next leader
        // allocate ~2^63 in-flight entries (hang, then out of memory); `highest + 1` traps for 2^64-1.
        // Cost is linear in the absurd instance, so anything far beyond the harness's few instances is
        // stepped around (26,500 already costs the harness ~0.2 s per input).
        // (A promise counts only when its `from` is the candidate's prepareFrom, the loop's start.)
        if case .promise(let pr) = m, p.mode == .candidate, pr.ballot == p.ballot,
           pr.accepted.contains(where: { $0.instance > pr.from &+ 4_096 }) {
            return "promise-absurd-instance"
        }
        // BUG 2 (builds with trimming): DecidedInstances.advance(through:) sets `firstUndecided =
        // instance + 1`, which traps for 2^64-1: a `trimmed` message through 2^64-1 from a valid acceptor
        // id, or a promise whose trimmedThrough is 2^64-1, kills the proposer. Looked up by name (Mirror)
        // so this file compiles against builds with and without trimming.
        switch m {
        case .promise(let pr):
            if field(pr, "trimmedThrough") == UInt64.max { return "trimmed-through-2^64-1" }
        case .submit, .chosen, .prepare, .nack, .accept, .accepted, .replay, .heartbeat, .catchUp, .decided, .recover:
            break  // the fast path: no reflection
        default:
            if let (label, value) = caseOf(m), label == "trimmed", let through = field(value, "through") {
                if through == UInt64.max { return "trimmed-through-2^64-1" }
                // BUG 3 (builds with trimming): `trimmed(acceptor, through)` from any valid acceptor id
                // makes a proposer mark everything through `through` decided and move its next instance
                // past it; the leader then proposes at `through + 1`, acceptors accept there, and the
                // next leader's promises carry that instance: BUG 1 with any absurd `through`
                // (minimised: trimmed(3, 8372095) + a submit + a promise => 8 million no-ops in flight).
                if through > p.firstUndecided &+ 4_096 { return "trimmed-absurd-jump" }
            }
        }
        return nil
    }

    /// Open bugs (still there in the sources of this writing).
    static func checkOpen(_ m: Message, for p: Paxos.Proposer) -> String? {
        // BUG 4: instance numbers near the decoder's limit (Wire.maxInstance = 2^62, itself accepted)
        // let a leader compute 2^62 + 1 and send 2As and heartbeats no acceptor or proposer can decode.
        // Minimised (20 bytes, Fuzz/known-bugs/promise-trimmed-2^62): one promise for the candidate's
        // ballot whose trimmedThrough is 2^62: becomeLeader marks everything through it decided and
        // proposes at 2^62 + 1. Same with a promised vote for instance 2^62 (nextInstance = highest + 1)
        // and a `recover` from 2^62 once firstUndecided is that high. Live, a leader pushed to 2^40 this
        // way decides client values there (clients are told "chosen" and exit) while learners deliver
        // no-ops a window at a time towards 2^40, forever.
        let near: Instance = (1 << 62) - (1 << 20)
        switch m {
        case .promise(let pr):
            if p.mode == .candidate, pr.ballot == p.ballot,
               (field(pr, "trimmedThrough") ?? 0) >= near || pr.accepted.contains(where: { $0.instance >= near }) {
                return "instance-near-2^62"
            }
        case .recover(_, let from):
            if from >= near && p.firstUndecided >= near { return "instance-near-2^62" }
        case .submit, .chosen, .prepare, .nack, .accept, .accepted, .replay, .heartbeat, .catchUp, .decided:
            break
        default:
            if let (label, value) = caseOf(m), label == "trimmed", let through = field(value, "through"),
               through >= near {
                return "instance-near-2^62"
            }
        }
        return nil
    }

    static func caseOf(_ m: Message) -> (String, Any)? {
        guard let c = Mirror(reflecting: m).children.first, let label = c.label else { return nil }
        return (label, c.value)
    }

    static func field(_ value: Any, _ name: String) -> UInt64? {
        Mirror(reflecting: value).children.first { $0.label == name }?.value as? UInt64
    }
}

/// The watchdog of the tool's generator: an input running longer than PAXOS_FUZZ_WATCHDOG seconds is
/// written to ./watchdog-input and the process aborts.
enum Watchdog {
    nonisolated(unsafe) static var current: UnsafeMutablePointer<UInt8> = .allocate(capacity: 1 << 17)
    nonisolated(unsafe) static var currentCount = 0
    static let seconds: UInt32 = {
        guard let v = getenv("PAXOS_FUZZ_WATCHDOG") else { return 0 }
        return UInt32(String(cString: v)) ?? 0
    }()
    nonisolated(unsafe) static var installed = false

    static func arm(_ bytes: [UInt8]) {
        guard seconds > 0 else { return }
        if !installed {
            installed = true
            signal(SIGALRM) { _ in
                let fd = open("watchdog-input", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 { _ = write(fd, Watchdog.current, Watchdog.currentCount); close(fd) }
                let msg = "watchdog: an input ran too long; written to ./watchdog-input\n"
                _ = msg.withCString { write(2, $0, strlen($0)) }
                abort()
            }
        }
        currentCount = min(bytes.count, 1 << 17)
        bytes.withUnsafeBufferPointer { current.update(from: $0.baseAddress!, count: currentCount) }
        alarm(seconds)
    }
}

/// Stops the process with a message libFuzzer (or the tool) reports as a crash.
func fuzzFail(_ why: @autoclosure () -> String, _ bytes: [UInt8]) -> Never {
    let hex = bytes.prefix(512).map { b in
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }.joined()
    fatalError("FUZZ INVARIANT: \(why()) [input \(bytes.count) bytes: \(hex)\(bytes.count > 512 ? "..." : "")]")
}

enum FuzzDriver {
    // MARK: the template cluster, built once and copied (roles are value types)

    struct Cluster {
        var acceptor: Paxos.Acceptor
        var learner: Paxos.Learner
        var leader: Paxos.Proposer      // id 1, leading with ballot 1.1 and values in flight
        var candidate: Paxos.Proposer   // id 2, candidate with ballot 1.2 waiting for promises
        var follower: Paxos.Proposer    // id 3, following
        var client: Paxos.Client        // id 1, three values outstanding
        var now: UInt64
        var learned: [Delivery] = []
    }

    static let settings: ProtocolSettings = {
        var s = ProtocolSettings()
        s.acceptorCount = 3
        return s
    }()

    static func sub(_ client: UInt32, _ seq: UInt64, _ v: String) -> Submission {
        Submission(id: SubmissionID(client: client, incarnation: 7, sequence: seq), value: Array(v.utf8))
    }

    static let template: Cluster = {
        let s = settings
        let b11 = Ballot(round: 1, proposer: 1)
        let early: [AcceptedEntry] = [
            AcceptedEntry(instance: 1, ballot: b11, proposal: .batch([sub(1, 1, "a")])),
            AcceptedEntry(instance: 2, ballot: b11, proposal: .noop),
            AcceptedEntry(instance: 3, ballot: b11, proposal: .batch([sub(1, 2, "b"), sub(2, 1, "c")])),
        ]
        let acceptor = Paxos.Acceptor(id: 1, settings: s, restoring: AcceptorDurableState(promised: b11, accepted: early))

        // A learner that delivered instances 1 and 2 (so it serves catch-up) and holds a vote for 4.
        var learner = Paxos.Learner(id: 1, settings: s)
        for a: UInt32 in 1...2 {
            _ = learner.on(.accepted(acceptor: a, ballot: b11, proposals: early[0..<2].map {
                InstanceProposal(instance: $0.instance, proposal: $0.proposal)
            }))
        }
        _ = learner.on(.accepted(acceptor: 3, ballot: b11, proposals: [InstanceProposal(instance: 4, proposal: .noop)]))

        // Proposer 1: first election at once (its deadline is only a jitter), promises from acceptors 1
        // and 2 (one reporting instance 1), then submissions in flight.
        var leader = Paxos.Proposer(id: 1, settings: s, seed: 1)
        var t: UInt64 = 0
        while leader.mode == .follower && t < 1_000 { t += 1; _ = leader.tick(now: t) }
        let lb = leader.ballot
        for a: UInt32 in 1...2 {
            _ = leader.on(.promise(Promise(acceptor: a, ballot: lb, from: 1, chunk: 0, chunkCount: 1,
                                           accepted: a == 1 ? [early[0]] : [])))
        }
        _ = leader.on(.submit([sub(3, 1, "x"), sub(3, 2, "y"), sub(3, 3, "z")]))

        // Proposer 2: a candidate waiting for promises for its ballot.
        var candidate = Paxos.Proposer(id: 2, settings: s, seed: 2)
        var t2: UInt64 = 0
        while candidate.mode == .follower && t2 < 10_000 { t2 += 1; _ = candidate.tick(now: t2) }

        // Proposer 3: following leader 1.
        var follower = Paxos.Proposer(id: 3, settings: s, seed: 3)
        _ = follower.on(.heartbeat(ballot: lb, firstUndecided: 1))

        var client = Paxos.Client(id: 1, incarnation: 7, settings: s)
        _ = client.submit([Array("p".utf8), Array("q".utf8), Array("r".utf8)])
        client.closeInput()

        let now = max(t, t2)
        _ = learner.tick(now: now)
        _ = client.tick(now: now)
        _ = leader.tick(now: now)
        _ = follower.tick(now: now)
        return Cluster(acceptor: acceptor, learner: learner, leader: leader, candidate: candidate,
                       follower: follower, client: client, now: now)
    }()

    // MARK: one input

    /// Cuts `bytes` before every "PX\u{1}" after the first byte.
    static func segments(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var cuts = [0]
        if bytes.count >= 3 {
            var i = 1
            while i + 2 < bytes.count {
                if bytes[i] == 0x50 && bytes[i + 1] == 0x58 && bytes[i + 2] == 0x01 { cuts.append(i) }
                i += 1
            }
        }
        cuts.append(bytes.count)
        var out: [ArraySlice<UInt8>] = []
        for k in 0..<(cuts.count - 1) where cuts[k] < cuts[k + 1] { out.append(bytes[cuts[k]..<cuts[k + 1]]) }
        return out
    }

    static func describe(_ e: Wire.DecodeError) -> String {
        switch e {
        case .tooShort: "tooShort"
        case .badMagic: "badMagic"
        case .unsupportedVersion: "unsupportedVersion"
        case .unknownType: "unknownType"
        case .truncated: "truncated"
        case .malformed: "malformed"
        case .trailingBytes: "trailingBytes"
        }
    }

    /// Decodes one datagram and checks the codec's invariants on it.
    static func checkedDecode(_ bytes: [UInt8], input: [UInt8], stats: inout FuzzStats) -> Message? {
        switch Wire.decode(bytes) {
        case .failure(let e):
            stats.errors[describe(e), default: 0] += 1
            return nil
        case .success(let m):
            stats.decoded += 1
            let again = Wire.encode(m)
            guard Wire.decode(again) == .success(m) else { fuzzFail("decode(encode(m)) != m for \(m)", input) }
            if again != bytes {
                // Over-long varints are the only non-canonical form: the canonical encoding is shorter.
                guard again.count < bytes.count else {
                    fuzzFail("re-encoding differs but is not shorter (\(again.count) vs \(bytes.count))", input)
                }
                stats.nonCanonical += 1
            }
            return m
        }
    }

    /// Messages a role sent are checked like received ones: they must round-trip exactly.
    static func checkSent(_ m: Message, input: [UInt8]) {
        let bytes = Wire.encode(m)
        guard Wire.decode(bytes) == .success(m) else { fuzzFail("a role sent a message that does not round-trip: \(m)", input) }
    }

    static let routeBudget = 300

    /// Delivers `first` to every role, then routes what they send, at most `routeBudget` messages.
    static func run(_ c: inout Cluster, _ first: [Message], input: [UInt8], stats: inout FuzzStats) {
        var queue: [(Message, Group?)] = first.map { ($0, nil) }  // nil: everyone (a sprayer reaches every group)
        var head = 0
        var routed = 0
        while head < queue.count && routed < routeBudget {
            let (m, group) = queue[head]
            head += 1
            routed += 1
            var out: [Outgoing] = []
            if group == nil || group == .acceptors { out += c.acceptor.on(m).send }
            if group == nil || group == .learners {
                let e = c.learner.on(m)
                learned(e, &c, input: input)
                out += e.send
            }
            if group == nil || group == .proposers || group == .learners {
                out += toProposers(&c, m)
            }
            if group == nil || group == .clients { out += c.client.on(m).send }
            for o in out {
                checkSent(o.message, input: input)
                if queue.count - head < 4 * routeBudget { queue.append((o.message, o.group)) }
            }
        }
        stats.routed += routed
    }

    static func toProposers(_ c: inout Cluster, _ m: Message) -> [Outgoing] {
        var out: [Outgoing] = []
        func give(_ p: inout Paxos.Proposer) {
            if let bug = KnownBugs.check(m, for: p) { KnownBugs.hit(bug); return }
            out += p.on(m).send
        }
        give(&c.leader)
        give(&c.candidate)
        give(&c.follower)
        return out
    }

    static func learned(_ e: Paxos.LearnerEffects, _ c: inout Cluster, input: [UInt8]) {
        for d in e.deliveries {
            let expected = UInt64(c.learned.count) + (c.learned.first?.position ?? d.position)
            guard d.position == expected else { fuzzFail("learner delivered position \(d.position), expected \(expected)", input) }
            c.learned.append(d)
        }
        for (k, i) in e.persist.enumerated() where k > 0 {
            guard i.instance == e.persist[k - 1].instance + 1 else { fuzzFail("learner delivered instances out of order", input) }
        }
    }

    static func tickAll(_ c: inout Cluster, input: [UInt8], stats: inout FuzzStats) {
        var out: [Outgoing] = []
        let e = c.learner.tick(now: c.now)
        learned(e, &c, input: input)
        out += e.send
        out += c.leader.tick(now: c.now).send
        out += c.candidate.tick(now: c.now).send
        out += c.follower.tick(now: c.now).send
        out += c.client.tick(now: c.now).send
        for o in out { checkSent(o.message, input: input) }
        // Route the tick's sends to their groups (bounded like everything else).
        var queue = out
        var budget = routeBudget / 4
        while !queue.isEmpty && budget > 0 {
            let o = queue.removeFirst()
            budget -= 1
            var more: [Outgoing] = []
            switch o.group {
            case .acceptors: more += c.acceptor.on(o.message).send
            case .learners:
                let e = c.learner.on(o.message)
                learned(e, &c, input: input)
                more += e.send
                more += toProposers(&c, o.message)
            case .proposers:
                more += toProposers(&c, o.message)
            case .clients: more += c.client.on(o.message).send
            }
            for m in more { checkSent(m.message, input: input) }
            if queue.count < routeBudget { queue += more }
        }
        stats.routed += routeBudget / 4 - budget
    }

    /// The whole check of one input. Never returns abnormally unless an invariant fails.
    static func one(_ input: [UInt8], stats: inout FuzzStats) {
        stats.inputs += 1
        Watchdog.arm(input)
        defer { if Watchdog.seconds > 0 { alarm(0) } }
        _ = checkedDecode(input, input: input, stats: &stats)

        var messages: [Message] = []
        let pieces = segments(input)
        if pieces.count > 1 {
            for p in pieces {
                if let m = checkedDecode(Array(p), input: input, stats: &stats) { messages.append(m) }
            }
        } else if case .success(let m) = Wire.decode(input) {
            messages.append(m)
        }
        guard !messages.isEmpty else { return }
        stats.segmentsDelivered += messages.count

        var c = template
        run(&c, messages, input: input, stats: &stats)
        // Advance the clock past every timeout: catch-up (5/10), heartbeats (10), retries (20 and 50),
        // election (50 + up to 30), probes and recover (100).
        for step: UInt64 in [10, 25, 100, 200] {
            c.now += step
            tickAll(&c, input: input, stats: &stats)
        }
        stats.deliveries += c.learned.count
    }
}
