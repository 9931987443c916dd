// `paxos-fuzz absurd`: replays each entry of the hostile-message catalogue (`paxos-fuzz catalogue`) in a small simulated
// cluster and says whether the cluster shrugged it off.
//
// Cluster: the one harness of PaxosTesting (`Simulation`, the shells' own nodes over in-memory disks, with
// `Config.hostile`) with the real processes' protocol settings: acceptors 1-3, proposers 1-2, learner 1 from
// the start and learner 2 joining late (it catches up from the acceptors and learner 1), client 1 with 300
// values. It starts as a real one does: the acceptors start without state, ask each other, find a majority
// blank and start fresh once the presence period is over. Every process has its own identity and applies
// the shells' admission rules (another fingerprint or an older twin is dropped; a NEWER twin stops it for
// good). The network is perfect. The entry's datagrams, with the headers the catalogue gave them, are
// offered to every process (a sprayer reaches every group) every 50 ticks from tick 50 to 350.
// Verdicts:
//   ok       both learners delivered exactly the 300 values, in the same order, before the deadline
//   SLOW     ... but more than twice as late as without the entry
//   STALL    the deadline (tick 8000) passed first
//   WRONG    a learner delivered something else (a value not submitted, one twice, or a different order),
//            or a check of the harness failed (persist before send, a datagram that does not round-trip, ...)
//   HANG/CRASH  the entry made a role loop (20 s watchdog) or trap (each entry runs in a forked child)

#if !PAXOS_LIBFUZZER
import PaxosCore
import PaxosTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct AbsurdRun {
    static let values = 300
    static let deadline: UInt64 = 8_000

    static let config: Simulation.Config = {
        var c = Simulation.Config.asProcessesRun(seed: 1, values: values)
        c.lateLearnerStart = 400
        return c
    }()

    var sim = Simulation(AbsurdRun.config)
    var finishedAt: UInt64?
    var violation: Simulation.Violation?

    /// Runs until everything is delivered, a check fails or the deadline; `spray` is offered to everyone at
    /// ticks 50, 100, ... 350.
    init(spray: [[UInt8]]) {
        do {
            while sim.now < Self.deadline {
                try sim.step(faulty: false)
                if !spray.isEmpty && sim.now % 50 == 0 && sim.now <= 350 {
                    for d in spray { try sim.inject(d) }
                }
                if sim.everythingDelivered {
                    finishedAt = sim.now
                    return
                }
            }
        } catch {
            violation = error
        }
    }

    func verdict(baseline: UInt64?) -> String {
        var problems: [String] = violation.map { ["\($0)"] } ?? []
        var outputs: [[Submission]] = []
        for l: UInt32 in 1...2 {
            let out = sim.output(learner: l)
            outputs.append(out)
            let foreign = out.filter { sim.submitted[$0.id] != $0.value }
            if !foreign.isEmpty {
                problems.append("L\(l) learned \(foreign.count) values nobody submitted (\(foreign.prefix(2).map { String(decoding: $0.value, as: UTF8.self) }.joined(separator: ",")))")
            }
            let ids = Set(out.map(\.id))
            if ids.count != out.count { problems.append("L\(l) learned \(out.count - ids.count) values twice") }
            if finishedAt != nil && ids != Set(sim.submitted.keys) { problems.append("L\(l) misses \(Set(sim.submitted.keys).subtracting(ids).count) values") }
        }
        let n = min(outputs[0].count, outputs[1].count)
        if outputs[0].prefix(n) != outputs[1].prefix(n) { problems.append("the learners' orders differ") }
        let stopped = sim.processes.filter { !$0.isAlive && !($0.role == .learner && $0.id == 2 && sim.now <= 400) }.map(\.name)
        var note = stopped.isEmpty ? "" : " [stopped: \(stopped.sorted().joined(separator: ","))]"
        note += " (\(sim.messagesDelivered) messages)"
        if !problems.isEmpty { return "WRONG  " + problems.joined(separator: "; ") + note }
        guard let t = finishedAt else {
            return "STALL  learned \(outputs[0].count)/\(Self.values) and \(outputs[1].count)/\(Self.values) by tick \(Self.deadline); "
                + sim.progressSummary + note
        }
        if let b = baseline, t > 2 * b { return "SLOW   done at tick \(t) (baseline \(b))" + note }
        return "ok     done at tick \(t)" + note
    }
}

enum AbsurdMode {
    static func run() {
        // Baseline first, in-process.
        let base = AbsurdRun(spray: [])
        let baseline = base.finishedAt
        print(pad("(no spray: baseline)") + " " + base.verdict(baseline: nil))
        fflush(stdout)
        while let line = readLine() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            let name = "\(fields[0])/\(fields[1])"
            var messages: [[UInt8]] = []
            var undecodable = 0
            for h in fields[2].split(separator: ",") {
                guard let bytes = unhex(h) else { undecodable += 1; continue }
                if case .success = Wire.decodeDatagram(bytes) { messages.append(bytes) } else { undecodable += 1 }
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
                let v = AbsurdRun(spray: messages).verdict(baseline: baseline) + skipped + "\n"
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
#endif
