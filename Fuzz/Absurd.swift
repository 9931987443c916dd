// `paxos-fuzz-tool absurd`: replays each entry of the hostile-message catalogue (`paxos-fuzz-tool catalogue`) in a small simulated
// cluster and says whether the cluster shrugged it off.
//
// Cluster: acceptors 1-3, proposers 1-2, learner 1 from the start and learner 2 joining late (it catches up
// from the acceptors and learner 1), client 1 submitting 10 values every 10 ticks (300 in all). It starts
// as a real one does: the acceptors start without state (`blankStart: .recover`, the shells' default), ask
// each other at their first tick, find a majority blank and start fresh; proposers use random-looking
// incarnations in their ballots. Every process has its own identity (role, id, incarnation, start time):
// every datagram goes through Wire.encode with its sender's header and Wire.decodeDatagram, and each role
// applies the shells' admission rules to it (another fingerprint or an older twin is dropped; a NEWER twin
// stops the role for good, as the shell exits). The network is perfect. The entry's datagrams, with the
// headers HostileMessages gave them, are offered to every role (a sprayer reaches every group) every 50 ticks
// from tick 50 to 350, while values flow.
// Verdicts:
//   ok       both learners delivered exactly the 300 values, in the same order, before the deadline
//   SLOW     ... but more than twice as late as without the entry
//   STALL    the deadline (tick 8000) passed first
//   WRONG    a learner delivered something else (a value not submitted, one twice, or a different order)
//   HANG/CRASH  the entry made a role loop (20 s watchdog) or trap (each entry runs in a forked child)
// With the known-bug guards on (default), a guarded message is dropped and the verdict says so.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct MiniCluster {
    static let values = 300
    static let deadline: UInt64 = 8_000
    static let lateLearnerStart: UInt64 = 400

    var settings = FuzzDriver.settings
    var acceptors: [Paxos.Acceptor] = []
    var proposers: [Paxos.Proposer] = []
    var learners: [Paxos.Learner?] = []
    var client: Paxos.Client
    var now: UInt64 = 0
    var queue: [(Wire.Datagram, Group)] = []
    var learned: [[Submission]] = [[], []]
    var submitted = 0
    var guarded: [String: Int] = [:]
    var messages = 0
    var refused = 0
    /// Roles a newer twin stopped, by name (A1, P2, L1, C1).
    var stopped: Set<String> = []
    var recovered: [String] = []

    static func sender(_ role: Role, _ id: UInt32, startedAt: UInt64 = 1_000) -> Sender {
        let code: UInt32 = role == .acceptor ? 1 : role == .proposer ? 2 : role == .learner ? 3 : 4
        return Sender(role: role, id: id, incarnation: 0x5EED_0000 | code << 8 | id, startedAt: startedAt)
    }

    static func name(_ s: Sender) -> String {
        (s.role == .acceptor ? "A" : s.role == .proposer ? "P" : s.role == .learner ? "L" : "C") + "\(s.id)"
    }

    func header(_ s: Sender) -> Wire.Header { Wire.Header(fingerprint: settings.fingerprint, sender: s) }

    init() {
        for a: UInt32 in 1...3 {
            acceptors.append(Paxos.Acceptor(id: a, settings: settings, seed: UInt64(a) * 104_729))
        }
        for p: UInt32 in 1...2 {
            proposers.append(Paxos.Proposer(id: p, settings: settings, seed: UInt64(p) * 7919,
                                            incarnation: Self.sender(.proposer, p).incarnation))
        }
        learners = [Paxos.Learner(id: 1, settings: settings), nil]
        client = Paxos.Client(id: 1, incarnation: 0xC1C1, settings: settings)
    }

    var done: Bool { learned.allSatisfy { $0.count >= Self.values } && client.isDone }

    mutating func learnerEffects(_ k: Int, _ e: Paxos.LearnerEffects) -> [Outgoing] {
        learned[k] += e.deliveries.map(\.submission)
        return e.send
    }

    /// Whether the process `me` takes a datagram with `header` (the shells' admission rules).
    mutating func admits(_ me: Sender, _ header: Wire.Header) -> Bool {
        let name = Self.name(me)
        guard !stopped.contains(name) else { return false }
        switch Paxos.Admission(me: me, fingerprint: settings.fingerprint).verdict(on: header) {
        case .admit: return true
        case .displaced: stopped.insert(name); return false
        case .foreignCluster, .olderTwin: refused += 1; return false
        }
    }

    mutating func from(_ me: Sender, _ sends: [Outgoing]) -> [(Wire.Datagram, Group)] {
        sends.map { (Wire.Datagram(header: header(me), message: $0.message), $0.group) }
    }

    /// Offers one datagram to the roles listening to `group` (nil: all roles).
    mutating func deliver(_ d: Wire.Datagram, to group: Group?) -> [(Wire.Datagram, Group)] {
        messages += 1
        let m = d.message
        var out: [(Wire.Datagram, Group)] = []
        if group == nil || group == .acceptors {
            for k in acceptors.indices {
                let me = Self.sender(.acceptor, acceptors[k].id)
                guard admits(me, d.header) else { continue }
                if let bug = KnownBugs.check(m, for: acceptors[k]) { guarded[bug, default: 0] += 1; continue }
                let e = acceptors[k].on(m)
                note(e.events, of: me)
                out += from(me, e.send)
            }
        }
        if group == nil || group == .proposers || group == .learners {
            for k in proposers.indices {
                let me = Self.sender(.proposer, proposers[k].id)
                guard admits(me, d.header) else { continue }
                if let bug = KnownBugs.check(m, for: proposers[k]) { guarded[bug, default: 0] += 1; continue }
                out += from(me, proposers[k].on(m).send)
            }
        }
        if group == nil || group == .learners {
            for k in learners.indices {
                guard var l = learners[k], admits(Self.sender(.learner, l.id), d.header) else { continue }
                let e = l.on(m)
                learners[k] = l
                out += from(Self.sender(.learner, l.id), learnerEffects(k, e))
            }
        }
        if group == nil || group == .clients, admits(Self.sender(.client, client.id), d.header) {
            out += from(Self.sender(.client, client.id), client.on(m).send)
        }
        return out
    }

    mutating func note(_ events: [Paxos.AcceptorEvent], of me: Sender) {
        for e in events {
            switch e {
            case .startedFresh: recovered.append("\(Self.name(me)) fresh@\(now)")
            case .recovered: recovered.append("\(Self.name(me)) recovered@\(now)")
            case .raisingBarrier: break
            }
        }
    }

    mutating func flush() {
        var budget = 200_000
        while !queue.isEmpty && budget > 0 {
            let batch = queue
            queue = []
            for (d, group) in batch {
                budget -= 1
                let bytes = Wire.encode(d.message, header: d.header)
                guard case .success(let back) = Wire.decodeDatagram(bytes), back == d else {
                    fatalError("a role sent an undecodable datagram: \(d)")
                }
                queue += deliver(back, to: group)
            }
        }
    }

    mutating func tick() {
        now += 1
        if now == Self.lateLearnerStart { learners[1] = Paxos.Learner(id: 2, settings: settings, now: now) }
        if now % 10 == 0 && submitted < Self.values {
            let vs = (submitted..<(submitted + 10)).map { Array("v\($0 + 1)".utf8) }
            submitted += 10
            if !stopped.contains("C1") { queue += from(Self.sender(.client, client.id), client.submit(vs).send) }
            if submitted >= Self.values { client.closeInput() }
        }
        for k in acceptors.indices {
            let me = Self.sender(.acceptor, acceptors[k].id)
            guard !stopped.contains(Self.name(me)) else { continue }
            let e = acceptors[k].tick(now: now)
            note(e.events, of: me)
            queue += from(me, e.send)
        }
        for k in proposers.indices {
            let me = Self.sender(.proposer, proposers[k].id)
            guard !stopped.contains(Self.name(me)) else { continue }
            queue += from(me, proposers[k].tick(now: now).send)
        }
        for k in learners.indices {
            guard var l = learners[k], !stopped.contains("L\(l.id)") else { continue }
            let e = l.tick(now: now)
            learners[k] = l
            queue += from(Self.sender(.learner, l.id), learnerEffects(k, e))
        }
        if !stopped.contains("C1") { queue += from(Self.sender(.client, client.id), client.tick(now: now).send) }
        flush()
    }

    /// Runs until done or the deadline; `spray` is offered to everyone at ticks 50, 100, ... 350.
    mutating func run(spray: [Wire.Datagram]) -> UInt64? {
        while now < Self.deadline {
            tick()
            if !spray.isEmpty && now % 50 == 0 && now <= 350 {
                for d in spray { queue += deliver(d, to: nil) }
                flush()
            }
            if done { return now }
        }
        return nil
    }

    func verdict(finishedAt: UInt64?, baseline: UInt64?) -> String {
        let expected = (1...Self.values).map { "v\($0)" }
        var problems: [String] = []
        for (k, subs) in learned.enumerated() {
            let vals = subs.map { String(decoding: $0.value, as: UTF8.self) }
            let foreign = vals.filter { !$0.hasPrefix("v") || Int($0.dropFirst()) == nil || Int($0.dropFirst())! > Self.values }
            if !foreign.isEmpty { problems.append("L\(k + 1) learned \(foreign.count) values nobody submitted (\(foreign.prefix(2).joined(separator: ",")))") }
            if Set(vals).count != vals.count { problems.append("L\(k + 1) learned \(vals.count - Set(vals).count) values twice") }
            if finishedAt != nil && Set(vals) != Set(expected) { problems.append("L\(k + 1) misses \(Set(expected).subtracting(vals).count) values") }
        }
        if learned[0].count > 0 && learned[1].count > 0 {
            let n = min(learned[0].count, learned[1].count)
            if learned[0].prefix(n) != learned[1].prefix(n) { problems.append("the learners' orders differ") }
        }
        var note = guarded.isEmpty ? "" : " [guard dropped: " + guarded.sorted { $0.key < $1.key }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") + "]"
        if !stopped.isEmpty { note += " [stopped by a newer twin: \(stopped.sorted().joined(separator: ","))]" }
        note += " (\(messages) messages\(refused > 0 ? ", \(refused) refused by admission" : ""))"
        if !problems.isEmpty { return "WRONG  " + problems.joined(separator: "; ") + note }
        guard let t = finishedAt else {
            let ps = proposers.map { "P\($0.id) \($0.mode) ballot \($0.ballot) known \($0.knownBallot)" }.joined(separator: ", ")
            let ls = learners.compactMap { $0 }.map { "L\($0.id) next \($0.nextInstance) highestSeen \($0.highestSeen)" }.joined(separator: ", ")
            let as_ = acceptors.map { "A\($0.id) \($0.isRecovering ? "recovering " : "")promised \($0.promised)" }.joined(separator: ", ")
            return "STALL  learned \(learned[0].count)/\(Self.values) and \(learned[1].count)/\(Self.values) by tick \(Self.deadline); "
                + "\(ps); \(ls); \(as_)" + note
        }
        if let b = baseline, t > 2 * b { return "SLOW   done at tick \(t) (baseline \(b))" + note }
        return "ok     done at tick \(t)" + note
    }
}

enum AbsurdMode {
    static func run() {
        // Baseline first, in-process.
        var base = MiniCluster()
        let baseline = base.run(spray: [])
        print(pad("(no spray: baseline)") + " " + base.verdict(finishedAt: baseline, baseline: nil)
              + " [acceptors: \(base.recovered.joined(separator: ", "))]")
        fflush(stdout)
        while let line = readLine() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let name = "\(fields[0])/\(fields[1])"
            var messages: [Wire.Datagram] = []
            var undecodable = 0
            for h in fields[2].split(separator: ",") {
                guard let bytes = unhex(h) else { undecodable += 1; continue }
                if case .success(let d) = Wire.decodeDatagram(bytes) { messages.append(d) } else { undecodable += 1 }
            }
            let skipped = undecodable > 0 ? " {\(undecodable) of \(messages.count + undecodable) datagrams do not decode in this build}" : ""
            if messages.isEmpty {
                print(pad(name) + " dropped (nothing decodes)" + skipped)
                continue
            }
            fflush(stdout)
            var fds: [Int32] = [0, 0]
            guard pipe(&fds) == 0 else { fatalError("pipe") }
            let pid = fork()
            if pid == 0 {
                close(fds[0])
                signal(SIGALRM, SIG_DFL)
                alarm(20)
                var c = MiniCluster()
                let t = c.run(spray: messages)
                let v = c.verdict(finishedAt: t, baseline: baseline) + skipped + "\n"
                _ = v.withCString { write(fds[1], $0, strlen($0)) }
                _exit(0)  // not exit(): flushing the shared stdin would move the parent's file offset
            }
            close(fds[1])
            var out: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fds[0], &buf, buf.count)
                if n <= 0 { break }
                out += buf[0..<n]
            }
            close(fds[0])
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            let sig = status & 0x7F
            if sig == SIGALRM {
                print(pad(name) + " HANG   (still running after 20 s)" + skipped)
            } else if sig != 0 {
                print(pad(name) + " CRASH  (signal \(sig))" + skipped)
            } else {
                print(pad(name) + " " + String(decoding: out, as: UTF8.self), terminator: "")
            }
            fflush(stdout)
        }
    }

    static func pad(_ s: String) -> String { s.count >= 64 ? s : s + String(repeating: " ", count: 64 - s.count) }
}
