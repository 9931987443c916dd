// The fuzzing driver shared by the libFuzzer entry (FuzzTarget.swift) and the tool's modes (Tool.swift).
//
// One input is a byte string. It is checked two ways:
//
//  1. As one datagram: `Wire.decodeDatagram` must return (never trap). If it succeeds, the datagram (header
//     and message) re-encodes to bytes that decode to the same datagram, the re-encoding is never longer
//     than the input (the only non-canonical forms the decoder accepts are over-long varints, which are
//     strictly longer), and when no shorter form exists the re-encoding is byte-identical.
//  2. As a sequence of datagrams: the input is cut before every "PX\u{2}" (magic and wire version 2), and
//     every piece is injected, as a sprayer's datagram, into each of the `Stage`s: the one cluster harness
//     of PaxosTesting (`Simulation`, the shells' own nodes over in-memory disks, with `Config.hostile`)
//     warmed up into an interesting state. Each process applies the shells' admission rules (another
//     cluster's fingerprint or an older twin of it is dropped, a NEWER twin stops it for good). The
//     cluster then runs on for `afterTicks` ticks (retries, catch-up, recovery steps, elections). No node
//     may trap; the simulation's checks hold after every burst: persist before send, each learner's own
//     order and exactly-once, no round reused, every datagram a process sends round-trips and is admitted
//     by the processes it reaches. (One liberty: a state answer with request `anyRequest` is given to a
//     recovering acceptor as an answer to its current request.)

import PaxosCore
import PaxosTesting

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counters for the tool's summary (the libFuzzer entry ignores them).
struct FuzzStats {
    var inputs = 0
    var decoded = 0
    var nonCanonical = 0
    var injected = 0
    /// Runs (an input in one stage) after which acceptor 3 is no longer recovering though it was.
    var recoveries = 0
    /// Runs in which a newer twin from the input stopped a process.
    var displaced = 0
    var delivered = 0
    var errors: [String: Int] = [:]
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
    /// The clusters every input meets: one schedule of the simulator (3 acceptors, 3 proposers, 2 learners,
    /// 1 client, a perfect network), warmed up to a point, then copied for each input.
    enum Stage: Int, CaseIterable, CustomStringConvertible {
        /// Tick 5: every acceptor started blank and waits out the presence period before starting fresh;
        /// nothing promised, no leader (a forged nack here once stalled the cluster for good).
        case newCluster
        /// Tick 80: a leader, values in flight, learner 2 not started yet.
        case leading
        /// Tick 82: as `leading`, then acceptor 3 lost its disk at tick 80: it recovers from the others.
        case recovering
        /// Tick 130: learner 2 started late (tick 110) and catches up from acceptors and learner 1.
        case catchingUp

        var description: String { "\(self)" }

        var ticks: UInt64 {
            switch self {
            case .newCluster: 5
            case .leading: 80
            case .recovering: 82
            case .catchingUp: 130
            }
        }
    }

    static let config: Simulation.Config = {
        var c = Simulation.Config(seed: 7)
        c.hostile = true
        c.acceptorsRunning = 3
        c.proposers = 3
        c.learners = 2
        c.clients = 1
        c.valuesPerClient = 16
        c.maxDelay = 1
        c.maxBurst = 4
        c.restartRate = 0
        c.lateLearnerStart = 110
        c.settings.acceptorCount = 3
        return c
    }()

    /// Ticks the cluster runs after the input.
    static let afterTicks: UInt64 = 60

    static let warmed: [Simulation] = Stage.allCases.map { stage in
        var sim = Simulation(config)
        do {
            while sim.now < stage.ticks {
                if stage == .recovering && sim.now == 80 { sim.wipe(.acceptor, 3) }
                try sim.step(faulty: false)
            }
        } catch {
            fatalError("the fuzzer's \(stage) cluster broke before any input: \(error)")
        }
        return sim
    }

    static func cluster(_ stage: Stage) -> Simulation { warmed[stage.rawValue] }

    /// The `request` of an input's state answer that stands for "whatever the recovering acceptor asks
    /// now". A recovering acceptor draws a 64-bit nonce per recovery step and counts only answers echoing
    /// it, which no mutation guesses: a state answer with this request is given to each recovering
    /// acceptor with its current `recoveryRequest`, so the fuzzer reaches both steps of a recovery. 0 is
    /// one varint byte; a real nonce is 0 once in 2^64.
    static let anyRequest: UInt64 = 0

    // MARK: one input

    /// Cuts `bytes` before every "PX\u{2}" after the first byte.
    static func segments(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var cuts = [0]
        if bytes.count >= 3 {
            var i = 1
            while i + 2 < bytes.count {
                if bytes[i] == Wire.magic.0 && bytes[i + 1] == Wire.magic.1 && bytes[i + 2] == Wire.version { cuts.append(i) }
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
    static func checkedDecode(_ bytes: [UInt8], input: [UInt8], stats: inout FuzzStats) -> Wire.Datagram? {
        // A fragment: it decodes without trapping, re-encodes to what decodes the same, and a small
        // reassembly buffer takes it without trapping or exceeding its bounds.
        if case .success(let f) = Wire.decodeFragment(bytes) {
            guard Wire.decodeFragment(Wire.encode(f)) == .success(f) else { fuzzFail("fragment does not round-trip: \(f)", input) }
            var r = Reassembler(limits: .init(maxBufferedBytes: 1 << 16, maxPartial: 2))
            _ = r.add(f)
            guard r.bufferedBytes <= 1 << 16, r.partialCount <= 2 else { fuzzFail("reassembly beyond its bounds", input) }
        }
        switch Wire.decodeDatagram(bytes) {
        case .failure(let e):
            stats.errors[describe(e), default: 0] += 1
            return nil
        case .success(let d):
            stats.decoded += 1
            let again = Wire.encode(d.message, header: d.header)
            guard Wire.decodeDatagram(again) == .success(d) else { fuzzFail("decode(encode(d)) != d for \(d)", input) }
            if again != bytes {
                // Over-long varints are the only non-canonical form: the canonical encoding is shorter.
                guard again.count < bytes.count else {
                    fuzzFail("re-encoding differs but is not shorter (\(again.count) vs \(bytes.count))", input)
                }
                stats.nonCanonical += 1
            }
            return d
        }
    }

    /// Injects one piece of the input; a state answer with `anyRequest` reaches each recovering acceptor
    /// with the request it waits for.
    static func inject(_ piece: [UInt8], _ decoded: Wire.Datagram?, into sim: inout Simulation) throws(Simulation.Violation) {
        guard let d = decoded, case .acceptorState(let p, let recovering, let request) = d.message, request == anyRequest else {
            try sim.inject(piece)
            return
        }
        let asking = sim.processes.filter { $0.isAlive && $0.acceptor?.recoveryRequest != nil }
        try sim.inject(piece, to: { p in !asking.contains { $0 === p } })
        for a in asking {
            guard a.isAlive, let request = a.acceptor?.recoveryRequest else { continue }
            let echo = Wire.encode(.acceptorState(p, recovering: recovering, request: request), header: d.header)
            try sim.inject(echo, to: { $0 === a }, clients: false)
        }
    }

    /// The whole check of one input. Never returns abnormally unless an invariant fails.
    static func one(_ input: [UInt8], stats: inout FuzzStats) {
        stats.inputs += 1
        Watchdog.arm(input)
        defer { if Watchdog.seconds > 0 { alarm(0) } }
        let whole = checkedDecode(input, input: input, stats: &stats)

        var pieces: [([UInt8], Wire.Datagram?)] = []
        let cut = segments(input)
        if cut.count > 1 {
            for p in cut { pieces.append((Array(p), checkedDecode(Array(p), input: input, stats: &stats))) }
        } else if !input.isEmpty {
            pieces.append((input, whole))
        }
        guard !pieces.isEmpty else { return }
        // Bytes no process decodes are dropped on arrival: worth one stage only.
        let stages = pieces.contains { $0.1 != nil } ? Stage.allCases : [.leading]
        for stage in stages {
            var sim = cluster(stage).copy()
            let wasRecovering = sim.process(.acceptor, 3).acceptor?.isRecovering ?? false
            let running = sim.processes.filter(\.isAlive).count
            do {
                for (bytes, d) in pieces {
                    try inject(bytes, d, into: &sim)
                    stats.injected += 1
                }
                let end = sim.now + afterTicks
                while sim.now < end { try sim.step(faulty: false) }
            } catch {
                fuzzFail("\(stage): \(error)", input)
            }
            if wasRecovering && !(sim.process(.acceptor, 3).acceptor?.isRecovering ?? true) { stats.recoveries += 1 }
            if sim.processes.filter(\.isAlive).count < running { stats.displaced += 1 }
            stats.delivered += sim.output(learner: 1).count
        }
    }
}
