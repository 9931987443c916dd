import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// `paxos-bench run`: the throughput and latency benchmark (scripts/bench.sh runs it inside a private
/// network namespace): the full cluster (2 clients, 2 proposers, 3 acceptors, 2 learners, default
/// config), plus, in the same invocation, the machine's limits (raw multicast, SQLite commits) so that
/// every figure reads as a fraction of what the machine can do.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Benchmark runs (closed loop, open loop, classic timeline) and the machine's limits; run it through scripts/bench.sh.",
        discussion: """
            Modes combine: each runs on a fresh cluster and state, one after the other. Writes into OUT: results.md and \
            results.json (everything), limits/, and per run (closed, open-R, classic) its config, latency logs, report/ \
            (results.json, throughput.csv, latency.csv), cpu.json and bench.svg. Exit status 0 when every run delivered \
            every value to both learners and every process behaved (the targets are reported, not enforced), 1 otherwise.
            Multicast must stay inside the namespace: run it through scripts/bench.sh, not on the host.
            """)

    @Flag(help: "Closed loop: each client is fed -n values as fast as its client window allows (the default mode).")
    var closed = false
    @Option(help: "Open loop: each client is fed R/2 values per second for -d seconds (R in total).")
    var rate: Int?
    @Flag(help: "The classic course timeline: acceptors, 1 s, learners, 1 s, proposers, 1 s, both clients with --classic-n values each (plain processes); pass if all is learned within 5 s.")
    var classic = false
    @Option(name: .customShort("n"), help: "Closed loop: values per client.")
    var n = 500_000
    @Option(name: .customShort("d"), help: "Open loop: seconds of load.")
    var seconds = 10
    @Option(help: "Classic: values per client.")
    var classicN = 100_000
    @Option(help: "Results folder (default: ${TMPDIR:-/tmp}/paxos-bench.<date>-<time>).")
    var out: String?
    @Option(help: "Seconds a run may take from the clients' start.")
    var timeout = 180
    @Flag(help: "Skip the machine-limit measurements.")
    var noLimits = false
    @Flag(help: "Skip the plots.")
    var noPlot = false
    @Flag(help: "Keep the SQLite state and the learners' outputs of every run.")
    var keepState = false
    @Flag(help: "Closed/open runs: perf record of every CPU for 2 s from 1 s after the clients start, then perf trace of acceptor 1, learner 1 and proposer 1 for 1.5 s. Slows the run.")
    var profile = false
    @Option(help: "SQLite synchronous level of acceptors and learners: full (default, the durable setting the targets are about), normal or off (diagnostic).")
    var synchronous = "full"
    @Option(help: "Closed/open runs: every value is this many bytes (1-16777216; default: the course's numbers 0-32767). Reports MB/s beside the disk's write bandwidth, measured in the same invocation.")
    var valueBytes: Int?
    @Option(help: ArgumentHelp("Also run every selected mode again with this fraction (0-1) of the cluster's datagrams dropped at random (an iptables rule inside bench.sh's namespace, removed after each run); the runs are named closed-loss, classic-loss, open-R-loss.", valueName: "P"))
    var loss: Double?
    @Option(name: .customLong("set"), help: ArgumentHelp("A line added to every run's paxos.conf, e.g. --set 'flow-lead 0' (repeatable; for A/B comparisons).", valueName: "key value"))
    var settings: [String] = []
    @Option(help: "Folder of the repository's scripts (for the git line of machine.txt).")
    var scripts: String?

    func validate() throws {
        if let rate, rate < 2 { throw ValidationError("--rate must be at least 2 (R/2 per client)") }
        guard n > 0 else { throw ValidationError("-n needs a positive integer") }
        guard seconds > 0 else { throw ValidationError("-d needs a positive whole number of seconds") }
        guard classicN > 0 else { throw ValidationError("--classic-n needs a positive integer") }
        guard timeout > 0 else { throw ValidationError("--timeout needs a positive whole number of seconds") }
        if let loss, !(loss > 0 && loss < 1) { throw ValidationError("--loss must be a fraction between 0 and 1, e.g. 0.1") }
        guard ["full", "normal", "off"].contains(synchronous) else { throw ValidationError("--synchronous must be full, normal or off") }
        if let valueBytes, !(1...(16 << 20)).contains(valueBytes) {
            throw ValidationError("--value-bytes must be in 1-16777216, not \(valueBytes)")
        }
    }

    func run() throws {
        var failed = false
        try guarded(tool: tool) {
            let folder = out ?? "\(ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")/paxos-bench.\(Self.stamp())"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let bench = BenchRun(options: self, out: URL(fileURLWithPath: folder).standardizedFileURL.path)
            try bench.runAll()
            failed = bench.failed
        }
        if failed { throw ExitCode(1) }
    }

    static func stamp() -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        return f.string(from: Date())
    }
}

final class BenchRun {
    let o: RunCommand
    let out: String
    let paxos = paxosBinary()
    let bench = selfPath()
    let procs = Processes()
    var failed = false
    static let warmup = 2.0, stage = 1.0, pollLoad = 0.1, pollClassic = 0.05, classicTargetMs = 5000

    init(options: RunCommand, out: String) {
        o = options
        self.out = out
    }

    func runAll() throws {
        guard FileManager.default.isExecutableFile(atPath: paxos) else {
            throw StartupError("no paxos binary at \(paxos) (build it, or set PAXOS_BIN)")
        }
        note("binary \(paxos); results in \(out)")
        let repo = o.scripts.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path }
        let gitHead = repo.map { capture(["git", "-C", $0, "rev-parse", "--short", "HEAD"]) } ?? "?"
        let changed = repo.map { capture(["git", "-C", $0, "status", "--short"]).split(separator: "\n").count } ?? 0
        let cpuModel = (ProcFS.read("/proc/cpuinfo") ?? "").split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "?"
        var machine = [
            "date: \(ISO8601DateFormatter().string(from: Date()))",
            "kernel: \(capture(["uname", "-sr"]))",
            "cpus: \(ProcessInfo.processInfo.activeProcessorCount)",
            "cpu model: \(cpuModel)",
            "memory: \(String(format: "%.0fGi", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824))",
            "filesystem: \(capture(["df", "-hT", out]).split(separator: "\n").dropFirst().first.map { $0.split(separator: " ").prefix(2).joined(separator: " ") } ?? "?")",
            "load at start: \(ProcFS.loadAverage())",
            "synchronous: \(o.synchronous) (acceptors and learners)",
            "binary: \(paxos)",
            "git: \(gitHead) (\(changed) changed files in the work tree)",
        ]
        try write(machine.joined(separator: "\n") + "\n", to: out + "/machine.txt")

        if !o.noLimits { try measureLimits() }
        if let loss = o.loss { try LossRule.check(loss) }
        for loss in [nil] + (o.loss.map { [$0] } ?? []) {
            if o.closed || (o.rate == nil && !o.classic) { try withLoss(loss) { try runLoad(rate: nil, suffix: loss == nil ? "" : "-loss") } }
            if let rate = o.rate { try withLoss(loss) { try runLoad(rate: rate, suffix: loss == nil ? "" : "-loss") } }
            if o.classic { try withLoss(loss) { try runClassic(suffix: loss == nil ? "" : "-loss") } }
        }

        machine.append("load at end: \(ProcFS.loadAverage())")
        try write(machine.joined(separator: "\n") + "\n", to: out + "/machine.txt")
        do {
            FileHandle.standardError.write(Data(try Summary.write(out: out).utf8))
        } catch {
            note("the summary failed: \(error)")
            failed = true
        }
        note("results: \(out)/results.md, \(out)/results.json")
    }

    /// Runs `body` with a fraction `loss` of the cluster's datagrams dropped (nil: none).
    func withLoss(_ loss: Double?, _ body: () throws -> Void) throws {
        guard let loss else { return try body() }
        try LossRule.add(loss)
        defer { LossRule.remove(loss) }
        note("dropping \(String(format: "%g", loss * 100))% of the datagrams to \(LossRule.group) (iptables, inside namespace \(LossRule.namespace ?? "?"))")
        try body()
    }

    func write(_ text: String, to path: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }

    // MARK: machine limits

    func measureLimits() throws {
        let dir = out + "/limits"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        note("machine limits: raw multicast on the namespace's loopback (64-byte datagrams, 3 s)")
        for receivers in [1, 3] {
            for r in 1...receivers {
                try procs.spawn("recv\(r)", stdout: "\(dir)/mcast-1to\(receivers)-recv\(r).json", stderr: "/dev/null",
                                [bench, "multicast", "recv", "--group", "239.255.0.99", "--port", "9999", "--seconds", "3"])
            }
            sleep(seconds: 0.5)
            try procs.spawn("send", stdout: "\(dir)/mcast-1to\(receivers)-send.json", stderr: "/dev/null",
                            [bench, "multicast", "send", "--group", "239.255.0.99", "--port", "9999", "--seconds", "3", "--size", "64"])
            for label in procs.labels { procs.reap(label) }
            procs.forget()
        }
        note("machine limits: SQLite commits (WAL, synchronous=FULL, 64-byte rows; 1 and 5 writers, 2 s each) in \(dir)")
        try writeJSON(try SQLiteLimit.measureAll(directory: dir, seconds: 2), to: dir + "/sqlite.json")
        if o.valueBytes != nil {
            note("machine limits: the disk's write bandwidth (256 MiB written then fdatasync; SQLite WAL FULL, 64 KiB rows, 1 writer, 3 s)")
            try writeJSON(try DiskBandwidth.measure(directory: dir, seconds: 3), to: dir + "/disk.json")
        }
    }

    // MARK: one run

    var serverCPUAtStart: [String: Int] = [:]

    func startServer(_ dir: String, _ role: String, _ id: Int, bench: Bool = false, _ extra: [String] = []) throws {
        let command = bench ? [self.bench, role] : [paxos, role]
        try procs.spawn("\(role)\(id)", stdout: "\(dir)/\(role)\(id).log", stderr: "\(dir)/\(role)\(id).err",
                        command + ["\(id)", "\(dir)/paxos.conf"] + extra)
    }

    /// `--set` lines, each a line of the cluster's paxos.conf.
    var settingLines: String { o.settings.map { $0 + "\n" }.joined() }

    func prepare(_ dir: String, perClient: Int, seeds: (UInt64, UInt64)) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if let bytes = o.valueBytes {
            try writeConfig(dir + "/paxos.conf", extra: "synchronous \(o.synchronous)\nmax-value-bytes \(max(bytes, 1 << 20))\n" + settingLines)
            try writeFixedSizeValues(dir + "/values1.log", count: perClient, bytes: bytes, seed: seeds.0)
            try writeFixedSizeValues(dir + "/values2.log", count: perClient, bytes: bytes, seed: seeds.1)
            try write("\(bytes)\n", to: dir + "/value-bytes")
        } else {
            try writeConfig(dir + "/paxos.conf", extra: "synchronous \(o.synchronous)\n" + settingLines)
            try writeRandomValues(dir + "/values1.log", count: perClient, seed: seeds.0)
            try writeRandomValues(dir + "/values2.log", count: perClient, seed: seeds.1)
        }
        try write(ProcFS.loadAverage() + "\n", to: dir + "/load-before")
        try fsyncProbe(dir, "fsync-before.json")
    }

    func fsyncProbe(_ dir: String, _ name: String) throws {
        let text = (try? jsonText(try FsyncProbe.measure(in: dir, seconds: 1))) ?? "{}"
        try write(text + "\n", to: dir + "/" + name)
    }

    /// Starts the clients and waits until both learners hold every value's bytes; returns the ms from
    /// the clients' start to then (nil: timed out or a learner stopped), the machine's busy ticks over
    /// that time, and whatever `during` returns (run while waiting).
    func load(_ dir: String, clientCommand: (Int) -> [String], poll: Double, during: () -> Void = {}) throws -> (Int?, Int) {
        let udpBefore = ProcFS.udpCounters()
        serverCPUAtStart = [:]
        for label in procs.labels { if let pid = procs.pid(label) { serverCPUAtStart[label] = ProcFS.cpuTicks(pid) } }
        let busy0 = ProcFS.busyTicks()
        let t0 = nowMs()
        for i in 1...2 {
            try procs.spawn("client\(i)", stdin: "\(dir)/values\(i).log", stdout: "\(dir)/client\(i).log", stderr: nil, clientCommand(i))
        }
        let expected = fileSize(dir + "/values1.log") + fileSize(dir + "/values2.log")
        var profiler: Thread?
        let profiled = DispatchSemaphore(value: 0)
        if o.profile, clientCommand(1)[0] == bench {
            let pids = Dictionary(uniqueKeysWithValues: procs.labels.compactMap { l in procs.pid(l).map { (l, $0) } })
            profiler = Thread { Profile.run(dir: dir, pids: pids); profiled.signal() }
            profiler?.start()
        }
        var doneMs: Int?
        // The sizes of the learners' outputs (cheaper than counting lines: the polling must not load
        // the machine it measures).
        while true {
            let now = nowMs()
            let s1 = fileSize(dir + "/learner1.log"), s2 = fileSize(dir + "/learner2.log")
            if s1 >= expected && s2 >= expected { doneMs = now - t0; break }
            if now - t0 >= o.timeout * 1000 { note("timed out: learner1 \(s1), learner2 \(s2) of \(expected) bytes"); break }
            if !procs.isRunning("learner1") || !procs.isRunning("learner2") { note("a learner stopped"); break }
            sleep(seconds: poll)
        }
        if doneMs == nil { failed = true }
        let busy = ProcFS.busyTicks() - busy0
        let udpAfter = ProcFS.udpCounters()
        try writeJSON(udpAfter.reduce(into: [String: Int]()) { $0[$1.key] = $1.value - (udpBefore[$1.key] ?? 0) }, to: dir + "/udp.json")
        if profiler != nil { profiled.wait() }
        // Clients exit by themselves once everything is decided; give them a moment to write their logs.
        let deadline = nowMs() + 5000
        while (procs.isRunning("client1") || procs.isRunning("client2")) && nowMs() < deadline { sleep(seconds: 0.05) }
        return (doneMs, busy)
    }

    /// Reads every live process's CPU time and socket drops, then SIGTERM and the exit check.
    func stopCluster(_ dir: String, busy: Int) throws {
        let pids = Dictionary(uniqueKeysWithValues: procs.labels.compactMap { l in procs.pid(l).map { (l, $0) } })
        try write(ProcFS.socketDrops(pids).map { $0 + "\n" }.joined(), to: dir + "/socket-drops.txt")
        var cpu: [String: Int] = [:]
        for (label, pid) in pids where procs.isRunning(label) && !label.hasPrefix("client") { cpu[label] = ProcFS.cpuTicks(pid) }
        procs.stopAll()
        for line in procs.exitProblems() {
            note("FAIL: \(line)")
            failed = true
        }
        procs.forget()
        try write(ProcFS.loadAverage() + "\n", to: dir + "/load-after")
        try fsyncProbe(dir, "fsync-after.json")
        let tick = ProcFS.clockTicks
        func secs(_ t: Int) -> Double { (Double(t) / tick * 100).rounded() / 100 }
        try writeJSON(CPUFile(clk_tck: Int(tick), machine_busy_s: secs(busy), servers: cpu.mapValues(secs),
                              servers_during_load: cpu.reduce(into: [:]) { $0[$1.key] = secs($1.value - (serverCPUAtStart[$1.key] ?? 0)) }),
                      to: dir + "/cpu.json")
    }

    /// Closed loop (rate nil) or open loop, with latency logs, the report and the plot.
    func runLoad(rate: Int?, suffix: String = "") throws {
        let name = (rate.map { "open-\($0)" } ?? "closed") + suffix
        let perClient = rate.map { $0 * o.seconds / 2 } ?? o.n
        let dir = out + "/" + name
        try prepare(dir, perClient: perClient, seeds: (1, 2))
        if let rate {
            note("run \(name): open loop, 2 clients x \(rate / 2) values/s for \(o.seconds)s (\(perClient) values each)")
        } else {
            note("run \(name): closed loop, 2 clients x \(perClient) values")
        }
        for i in 1...3 { try startServer(dir, "acceptor", i) }
        for i in 1...2 { try startServer(dir, "learner", i, bench: true, ["--latency-log", "\(dir)/learner\(i).lat"]) }
        for i in 1...2 { try startServer(dir, "proposer", i) }
        sleep(seconds: Self.warmup)
        let rateOption = rate.map { ["--rate", String(format: "%g", Double($0) / 2)] } ?? []
        let (doneMs, busy) = try load(dir, clientCommand: { i in
            [self.bench, "client", "\(i)", "\(dir)/paxos.conf", "--timeout", "\(self.o.timeout)",
             "--latency-log", "\(dir)/client\(i).lat"] + rateOption
        }, poll: Self.pollLoad)
        try stopCluster(dir, busy: busy)
        note("run \(name): everything learned by both learners after \(fmtSeconds(doneMs ?? 0))s")
        if let bytes = o.valueBytes, let ms = doneMs, ms > 0 {
            let values = 2 * perClient
            note(String(format: "run \(name): %d values of %d bytes in %.2f s: %.0f values/s, %.1f MB/s of values", values, bytes,
                        Double(ms) / 1000, Double(values) / Double(ms) * 1000, Double(values * bytes) / Double(ms) / 1000))
        }
        checkOutputs(dir)
        do {
            let report = try BenchReportCommand.write(
                clientLogs: ["\(dir)/client1.lat", "\(dir)/client2.lat"], learnerLogs: ["\(dir)/learner1.lat", "\(dir)/learner2.lat"],
                out: dir + "/report", label: name)
            try write(report.summary() + "\n", to: dir + "/report.txt")
            try? FileHandle.standardError.write(contentsOf: Data((report.summary() + "\n").utf8))
            if !o.noPlot { try Plot.write(report: dir + "/report", to: dir + "/bench.svg", title: name) }
        } catch {
            note("report failed: \(error)")
            failed = true
        }
        finish(dir)
    }

    /// The course timeline with plain processes, timed by the sizes of the learners' outputs.
    func runClassic(suffix: String = "") throws {
        let dir = out + "/classic" + suffix
        let name = "classic" + suffix
        try prepare(dir, perClient: o.classicN, seeds: (3, 4))
        note("run \(name): acceptors, \(Int(Self.stage))s, learners, \(Int(Self.stage))s, proposers, \(Int(Self.stage))s, 2 clients x \(o.classicN) values")
        for i in 1...3 { try startServer(dir, "acceptor", i) }
        sleep(seconds: Self.stage)
        for i in 1...2 { try startServer(dir, "learner", i) }
        sleep(seconds: Self.stage)
        for i in 1...2 { try startServer(dir, "proposer", i) }
        sleep(seconds: Self.stage)
        let (doneMs, busy) = try load(dir, clientCommand: { i in
            [self.paxos, "client", "\(i)", "\(dir)/paxos.conf", "--timeout", "\(self.o.timeout)"]
        }, poll: Self.pollClassic)
        try stopCluster(dir, busy: busy)
        let verdict = doneMs.map { $0 <= Self.classicTargetMs } == true ? "PASS" : "FAIL"
        try writeJSON(ClassicFile(values_per_client: o.classicN, expected: 2 * o.classicN, all_learned_after_ms: doneMs,
                                  target_ms: Self.classicTargetMs, verdict: verdict), to: dir + "/classic.json")
        note("run \(name): \(verdict): all \(2 * o.classicN) values learned by both learners \(fmtSeconds(doneMs ?? 0))s after the clients started")
        checkOutputs(dir)
        finish(dir)
    }

    /// The course's checks (identical outputs, exactly once, learn database = output) on the run's files.
    func checkOutputs(_ dir: String) {
        let status = runToEnd([paxos, "check", "--state", dir + "/paxos-state", "--values", dir + "/values1.log",
                               dir + "/values2.log", "--learned", dir + "/learner1.log", dir + "/learner2.log"], output: dir + "/check.txt")
        if status == 0 {
            let last = (ProcFS.read(dir + "/check.txt") ?? "").split(separator: "\n").last ?? ""
            note("checks passed (\(last))")
        } else {
            note("FAIL: checks failed, see \(dir)/check.txt")
            failed = true
        }
    }

    /// Drops the bulky files unless --keep-state.
    func finish(_ dir: String) {
        guard !o.keepState else { return }
        for name in ["paxos-state", "learner1.log", "learner2.log", "values1.log", "values2.log", "perf.data"] {
            try? FileManager.default.removeItem(atPath: dir + "/" + name)
        }
    }
}

struct CPUFile: Codable {
    var clk_tck: Int
    var machine_busy_s: Double
    var servers: [String: Double]
    var servers_during_load: [String: Double]
}

struct ClassicFile: Codable {
    var values_per_client: Int
    var expected: Int
    var all_learned_after_ms: Int?
    var target_ms: Int
    var verdict: String
}

/// The loss rule of `--loss`: an iptables rule that drops a random fraction of the datagrams to the
/// cluster's group. Only ever inside the private namespace bench.sh made (it names it in
/// PAXOS_BENCH_NETNS, and `ip netns identify` must agree): never on the host's firewall.
enum LossRule {
    static let group = "239.0.0.1"
    static var namespace: String? { ProcessInfo.processInfo.environment["PAXOS_BENCH_NETNS"] }

    static func arguments(_ action: String, _ loss: Double) -> [String] {
        ["iptables", action, "INPUT", "-d", group, "-m", "statistic", "--mode", "random",
         "--probability", String(format: "%.4f", loss), "-j", "DROP"]
    }

    /// Refuses unless this process runs in the namespace bench.sh created.
    static func check(_ loss: Double) throws {
        guard let namespace, !namespace.isEmpty else {
            throw StartupError("--loss needs the private network namespace of scripts/bench.sh (PAXOS_BENCH_NETNS is not set)")
        }
        let here = capture(["ip", "netns", "identify", "\(getpid())"])
        guard here.split(separator: "\n").contains(Substring(namespace)) else {
            throw StartupError("--loss: this process is not inside namespace \(namespace) (ip netns identify says '\(here)'); refusing to touch the firewall")
        }
    }

    static func add(_ loss: Double) throws {
        try check(loss)
        guard runToEnd(arguments("-A", loss), output: "/dev/null") == 0 else {
            throw StartupError("could not add the loss rule (iptables) inside namespace \(namespace ?? "?")")
        }
    }

    static func remove(_ loss: Double) {
        _ = runToEnd(arguments("-D", loss), output: "/dev/null")
    }
}
