import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// `paxos-bench api-compare`: throughput through the Paxos library against the process path, alternated round
/// by round in one window (what scripts/bench-api.sh runs). Each side of a round gets a fresh cluster of
/// `paxos` processes (3 acceptors, 1 proposer) on loopback, a random group and random ports, then
///   process: a `paxos learner 1` process writing to a file and a `paxos client 1` process reading a fifo,
///            both running before the clock starts; timed from writing N lines into the fifo until the
///            learner's output holds N lines (looked at every 10 ms);
///   api:     a `paxos-bench api 1 <config> -n N --tasks T --batch B` process (an in-process `Learner` and
///            `Client`: N values from T concurrent tasks, B per submission; with `--writer`, handed over one at a
///            time into a `withSubmissions` stream from T tasks), which times itself from the first submission to
///            the N-th delivery.
/// Besides values/s, the CPU each side's own processes took (learner + client; the api process, its start
/// included in both), per 100,000 values.
struct ApiCompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-compare",
        abstract: "Throughput through the Paxos library vs the paxos client and learner processes, alternated.")
    @Option(name: .short, help: "Values per round and side.") var n = 100_000
    @Option(help: "Concurrent submitting tasks on the api side.") var tasks = 4_096
    @Option(help: "Values per submission on the api side (1: submit(_:) per value).") var batch = 1
    @Flag(help: "The api side hands values over one at a time through Client.withSubmissions from --tasks tasks.")
    var writer = false
    @Option(help: "Rounds (each: process, then api).") var rounds = 3
    @Option(help: "Folder holding the paxos and paxos-bench binaries (default: this one's).") var bin: String?

    func validate() throws {
        guard n > 0, tasks > 0, batch > 0, rounds > 0 else {
            throw ValidationError("-n, --tasks, --batch and --rounds need positive numbers")
        }
    }

    func run() throws {
        // A client that dies before reading its input must not kill this process with SIGPIPE on the write:
        // the write fails instead, and the cluster's processes are still stopped on the way out.
        signal(SIGPIPE, SIG_IGN)
        try guarded(tool: tool) {
            let folder = bin ?? URL(fileURLWithPath: selfPath()).deletingLastPathComponent().path
            let paxos = "\(folder)/paxos", bench = "\(folder)/paxos-bench"
            for binary in [paxos, bench] where access(binary, X_OK) != 0 {
                throw StartupError("no executable '\(binary)': build first (swift build -c release --product paxos; and --product paxos-bench)")
            }
            var results: [ApiComparison.Round] = []
            let loadBefore = ProcFS.loadAverage()
            for round in 1...rounds {
                let process = try ApiComparison.processSide(paxos: paxos, n: n)
                let api = try ApiComparison.apiSide(paxos: paxos, bench: bench, n: n, tasks: tasks, batch: batch, writer: writer)
                let r = ApiComparison.Round(process: process, api: api)
                print(ApiComparison.line(round: round, r, n: n, tasks: tasks, batch: writer ? 0 : batch))
                results.append(r)
            }
            print(ApiComparison.summary(results))
            print("load average: \(loadBefore) before, \(ProcFS.loadAverage()) after")
        }
    }
}

enum ApiComparison {
    struct Side: Equatable {
        var valuesPerSecond: Double
        /// CPU seconds of the side's own processes per 100,000 values.
        var cpuPer100k: Double
    }

    struct Round: Equatable {
        var process: Side
        var api: Side
    }

    /// `batch` 0: the api side streamed its values (`--writer`).
    static func line(round: Int, _ r: Round, n: Int, tasks: Int, batch: Int) -> String {
        let how = batch == 0 ? "\(tasks) \(tasks == 1 ? "writer" : "writers") x stream" : "\(tasks) tasks x \(batch)"
        return String(format: "round %d: process %.0f values/s, %.2f CPU-s per 100,000; ", round, r.process.valuesPerSecond, r.process.cpuPer100k)
            + "api (\(how)) " + String(format: "%.0f values/s, %.2f CPU-s per 100,000", r.api.valuesPerSecond, r.api.cpuPer100k)
    }

    static func summary(_ rounds: [Round]) -> String {
        guard !rounds.isEmpty else { return "no rounds" }
        func mean(_ f: (Round) -> Double) -> Double { rounds.map(f).reduce(0, +) / Double(rounds.count) }
        let p = mean { $0.process.valuesPerSecond }, a = mean { $0.api.valuesPerSecond }
        let pc = mean { $0.process.cpuPer100k }, ac = mean { $0.api.cpuPer100k }
        return String(format: "mean: process %.0f values/s, api %.0f values/s: api/process %.1f%%; CPU-s per 100,000 values: process %.2f, api %.2f (%.2fx)",
                      p, a, 100 * a / p, pc, ac, ac / pc)
    }

    /// A fresh cluster's folder and config on a random group and random ports, with acceptors 1-3 and
    /// proposer 1 started.
    static func cluster(paxos: String, _ processes: Processes) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-api-compare-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let group = "239.\(Int.random(in: 1...254)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))"
        let port = Int.random(in: 20_000..<50_000)
        let config = "clients \(group) \(port)\nproposers \(group) \(port + 1)\nacceptors \(group) \(port + 2)\nlearners \(group) \(port + 3)\nlearner-count 1\n"
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(dir)/paxos.conf"))
        for a in 1...3 {
            try processes.spawn("acceptor\(a)", stdout: "/dev/null", stderr: "\(dir)/acceptor\(a).log",
                                [paxos, "acceptor", "\(a)", "\(dir)/paxos.conf", "--log-level", "error"])
        }
        try processes.spawn("proposer1", stdout: "/dev/null", stderr: "\(dir)/proposer1.log",
                            [paxos, "proposer", "1", "\(dir)/paxos.conf", "--log-level", "error"])
        sleep(seconds: 1)
        return dir
    }

    static func processSide(paxos: String, n: Int) throws -> Side {
        let processes = Processes()
        let dir = try cluster(paxos: paxos, processes)
        defer {
            processes.stopAll()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let out = "\(dir)/out", fifo = "\(dir)/in"
        try processes.spawn("learner1", stdout: out, stderr: "\(dir)/learner1.log",
                            [paxos, "learner", "1", "\(dir)/paxos.conf", "--log-level", "error"])
        guard mkfifo(fifo, 0o600) == 0 else { throw StartupError("cannot make the fifo '\(fifo)'") }
        // Held open (read and write, so opening it does not wait; not inherited) while the client opens its
        // end, so that neither waits for the other.
        let holder = open(fifo, O_RDWR | O_CLOEXEC)
        guard holder >= 0 else { throw StartupError("cannot open the fifo '\(fifo)'") }
        defer { close(holder) }
        try processes.spawn("client1", stdin: fifo, stdout: "/dev/null", stderr: "\(dir)/client1.log",
                            [paxos, "client", "1", "\(dir)/paxos.conf", "--log-level", "error"])
        // The client starts, like the learner, before the clock; the input's only writer is then this handle
        // (the holder is closed before the input, at the latest when this side ends).
        guard let input = FileHandle(forWritingAtPath: fifo) else { throw StartupError("cannot open the fifo '\(fifo)'") }
        sleep(seconds: 0.5)
        var text = ""
        text.reserveCapacity(n * 7)
        for i in 1...n { text += "\(i)\n" }
        let lines = Data(text.utf8)
        guard let output = FileHandle(forReadingAtPath: out) else { throw StartupError("cannot read '\(out)'") }
        let began = monotonicNanoseconds()
        try input.write(contentsOf: lines)
        try input.close()
        var seen = 0
        var lastProgress = monotonicNanoseconds()
        while seen < n {
            let chunk = output.availableData
            if chunk.isEmpty {
                guard processes.isRunning("learner1") else { throw StartupError("the learner stopped after \(seen) of \(n) values") }
                // A client that stopped early, or a cluster that stalls: nothing more will come.
                guard monotonicNanoseconds() - lastProgress < Self.stallNanoseconds else {
                    throw StartupError("nothing delivered for \(Self.stallNanoseconds / 1_000_000_000) s after \(seen) of \(n) values")
                }
                usleep(10_000)
            } else {
                lastProgress = monotonicNanoseconds()
            }
            seen += chunk.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        let seconds = Double(monotonicNanoseconds() - began) / 1e9
        // The client exits once everything is decided: unreaped, its /proc entry still counts its CPU.
        let ticks = ["learner1", "client1"].compactMap { processes.records[$0]?.pid }.map(ProcFS.cpuTicks).reduce(0, +)
        try? output.close()
        return Side(valuesPerSecond: Double(n) / seconds, cpuPer100k: Double(ticks) / ProcFS.clockTicks * 100_000 / Double(n))
    }

    static func apiSide(paxos: String, bench: String, n: Int, tasks: Int, batch: Int, writer: Bool = false) throws -> Side {
        let processes = Processes()
        let dir = try cluster(paxos: paxos, processes)
        defer {
            processes.stopAll()
            try? FileManager.default.removeItem(atPath: dir)
        }
        try processes.spawn("api", stdout: "\(dir)/api.out", stderr: "\(dir)/api.log",
                            [bench, "api", "1", "\(dir)/paxos.conf", "-n", "\(n)", "--tasks", "\(tasks)", "--batch", "\(batch)"]
                                + (writer ? ["--writer"] : []))
        guard let pid = processes.records["api"]?.pid else { throw StartupError("the api process did not start") }
        // Waited for without reaping it, so that its /proc entry still tells its CPU time; given up (and
        // stopped, on the way out) when it runs far longer than the values can take.
        let began = monotonicNanoseconds()
        while true {
            var info = siginfo_t()
            let waited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | WNOHANG)
            #if canImport(Glibc)
            let exited = info._sifields._sigchld.si_pid
            #else
            let exited = info.si_pid
            #endif
            if waited == 0 && exited == pid { break }
            if waited != 0 && errno != EINTR { throw StartupError("cannot wait for the api process: errno \(errno)") }
            guard monotonicNanoseconds() - began < Self.stallNanoseconds + UInt64(n) * 100_000 else {
                throw StartupError("the api process did not finish \(n) values in time")
            }
            usleep(10_000)
        }
        let ticks = ProcFS.cpuTicks(pid)
        let status = processes.reap("api") ?? -1
        let text = (ProcFS.read("\(dir)/api.out") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard status == 0, let rate = valuesPerSecond(in: text) else {
            let errors = (ProcFS.read("\(dir)/api.log") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            throw StartupError("the api process failed (exit status \(status)): \(errors.isEmpty ? text : errors)")
        }
        return Side(valuesPerSecond: rate, cpuPer100k: Double(ticks) / ProcFS.clockTicks * 100_000 / Double(n))
    }

    /// How long a side may go without progress before the comparison gives up on it.
    static let stallNanoseconds: UInt64 = 60_000_000_000

    /// The figure before " values/s" at the end of `paxos-bench api`'s line.
    static func valuesPerSecond(in line: String) -> Double? {
        guard line.hasSuffix(" values/s"), let colon = line.lastIndex(of: ":") else { return nil }
        return Double(line[line.index(after: colon)...].dropLast(" values/s".count).trimmingCharacters(in: .whitespaces))
    }
}
