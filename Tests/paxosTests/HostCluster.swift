import Foundation
import PaxosCheck
#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds on a monotonic clock.
func nowMs() -> Int { Int(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

/// 1234 ms -> "1.2".
func seconds(_ ms: Int) -> String { "\(ms / 1000).\(ms % 1000 / 100)" }

/// A client's values written into a pipe at an even pace (`chunk` lines every 0.1 s), then the pipe closed,
/// so values are still flowing when hosts are cut off. Its own thread; SIGPIPE blocked there (a client
/// that died makes the write fail with EPIPE instead of killing the test).
final class Feeder: @unchecked Sendable {
    let readEnd: FileHandle
    private let writeFD: Int32
    private let lock = NSLock()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)
    private var started = false

    init() throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw IPRoute.Failure(description: "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK) // stop() never waits on a full pipe
        readEnd = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        writeFD = fds[1]
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    func start(lines: [String], chunk: Int) {
        started = true
        Thread { [self] in
            var block = sigset_t()
            sigemptyset(&block)
            sigaddset(&block, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &block, nil)
            defer { close(writeFD); finished.signal() }
            feeding: for start in stride(from: 0, to: lines.count, by: chunk) {
                let bytes = Array(lines[start..<min(start + chunk, lines.count)].map { $0 + "\n" }.joined().utf8)
                var offset = 0
                while offset < bytes.count {
                    if isStopped { break feeding }
                    let n = bytes[offset...].withUnsafeBytes { write(writeFD, $0.baseAddress, $0.count) }
                    if n > 0 { offset += n } else if n < 0 && errno == EAGAIN { usleep(10_000) } else { break feeding }
                }
                usleep(100_000)
            }
        }.start()
    }

    /// Ends the feeding (the client reads the end of its input) and waits for the thread. Once.
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        if started { finished.wait() } else { close(writeFD) }
    }
}

/// One process started by the test: `ip netns exec` execs the binary, so the PID is paxos's own, and it
/// is only ever signalled by that PID, while Foundation still reports it running (not yet reaped).
final class HostProcess {
    let label: String
    let log: String
    let process = Process()
    /// 128 + signal for a process ended by a signal.
    var status: Int32?
    var selfExit = false
    var hardKill = false
    /// Killed with -9 on purpose (a crash the test made): its exit is no contract's breach.
    var crashed = false

    init(label: String, log: String) {
        self.label = label
        self.log = log
    }

    var isClient: Bool { label.hasPrefix("client") }
    var running: Bool { status == nil && process.isRunning }

    func reap() {
        guard status == nil else { return }
        process.waitUntilExit()
        status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    func signal(_ sig: Int32) {
        if running { kill(process.processIdentifier, sig) }
    }

    /// Its log's last two lines, on one line.
    var logTail: String {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(2).joined(separator: " ")
    }
}

extension HostProcess {
    static let grace = 3 // seconds a process gets to exit after SIGTERM

    /// A file for a process's standard output or error: emptied, or kept and written at its end with `append`
    /// (a restarted process's second incarnation).
    static func output(_ path: String, append: Bool = false) throws -> FileHandle {
        if !append || !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        handle.seekToEndOfFile()
        return handle
    }

    /// SIGTERM to every process still running, `grace` seconds to exit, then SIGKILL; records every exit
    /// status. Safe to call again.
    static func stop(_ processes: [HostProcess]) {
        var live: [HostProcess] = []
        for proc in processes where proc.status == nil {
            if proc.process.isRunning {
                live.append(proc)
                proc.signal(SIGTERM)
            } else {
                proc.selfExit = true
            }
        }
        let deadline = nowMs() + grace * 1000
        while nowMs() < deadline && live.contains(where: \.running) { Thread.sleep(forTimeInterval: 0.05) }
        for proc in live where proc.running {
            proc.hardKill = true
            proc.signal(SIGKILL)
        }
        for proc in processes { proc.reap() }
    }

    /// One line per process that broke the contract: SIGTERM -> prompt exit 0; a client exits 0 by itself
    /// once everything is decided; nothing else exits by itself. A process the test crashed on purpose is
    /// none of these.
    static func exitProblems(_ processes: [HostProcess]) -> [String] {
        processes.compactMap { proc in
            guard !proc.crashed, let status = proc.status else { return nil }
            if proc.hardKill { return "\(proc.label) ignored SIGTERM for \(grace)s (killed)" }
            if status != 0 && proc.selfExit { return "\(proc.label) exited by itself with status \(status)" }
            if status != 0 { return "\(proc.label) exited with status \(status) after SIGTERM" }
            if proc.selfExit && !proc.isClient { return "\(proc.label) exited by itself (status 0) before the end" }
            return nil
        }
    }
}

/// A paxos cluster spread over the hosts of a ``BridgedHosts``, in folder `dir`: host k has host<k>/paxos.conf
/// (the course's four lines + "interface 10.77.0.k", "ttl 1", "acceptor-count H") and its state in
/// host<k>/state; it runs acceptor k and learner k (output learn<k>), hosts 1 and 2 also proposer and client 1
/// and 2 (values<k>, fed through a pipe); stderr to host<k>/<role><k>.log. Every sample of the learners'
/// counts goes to `timeline`.
final class HostCluster {
    let net: BridgedHosts
    let dir: String
    let n: Int
    private(set) var processes: [HostProcess] = []
    private var feeders: [Int: Feeder] = [:]
    private let timeline: FileHandle
    /// Lines in each learner's output at the last sample (index k - 1).
    private(set) var counts: [Int]
    /// When client 1 started.
    private(set) var t0 = 0

    var hosts: Int { net.hosts }
    var learnFiles: [String] { (1...hosts).map { "\(dir)/learn\($0)" } }
    var valueFiles: [String] { [1, 2].map { "\(dir)/values\($0)" } }
    func count(_ k: Int) -> Int { counts[k - 1] }

    init(net: BridgedHosts, dir: String, n: Int) throws {
        self.net = net
        self.dir = dir
        self.n = n
        counts = Array(repeating: 0, count: net.hosts)
        let fm = FileManager.default
        for k in 1...net.hosts {
            try fm.createDirectory(atPath: "\(dir)/host\(k)/state", withIntermediateDirectories: true)
            let config = "clients 239.0.0.1 5000\nproposers  239.0.0.1\t6000\nacceptors 239.0.0.1  7000\nlearners\t239.0.0.1 8000\n"
                + "interface \(BridgedHosts.address(k))\nttl 1\nacceptor-count \(net.hosts)\n"
            try config.write(toFile: "\(dir)/host\(k)/paxos.conf", atomically: false, encoding: .utf8)
        }
        for k in 1...2 {
            try (1...n).map { "\(k * 1_000_000 + $0)\n" }.joined().write(toFile: "\(dir)/values\(k)", atomically: false, encoding: .utf8)
        }
        _ = fm.createFile(atPath: "\(dir)/timeline", contents: Data("# ms after the clients' start, learners' line counts\n".utf8))
        timeline = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(dir)/timeline"))
        timeline.seekToEndOfFile()
    }

    func note(_ line: String) { timeline.write(Data("\(nowMs() - t0) \(line)\n".utf8)) }


    /// The binary's ROLE K on host K.
    func launch(_ role: String, _ k: Int) throws {
        let host = "\(dir)/host\(k)"
        let proc = HostProcess(label: "\(role)\(k)", log: "\(host)/\(role)\(k).log")
        let command = net.exec(on: k, [Paxos.binary, role, "\(k)", "\(host)/paxos.conf", "--state", "\(host)/state"])
        proc.process.executableURL = URL(fileURLWithPath: command[0])
        proc.process.arguments = Array(command.dropFirst())
        switch role {
        case "learner": proc.process.standardOutput = try HostProcess.output("\(dir)/learn\(k)")
        case "client": proc.process.standardOutput = try HostProcess.output("\(host)/client\(k).out")
        default: proc.process.standardOutput = FileHandle.nullDevice
        }
        if role == "client" {
            let feeder = try Feeder()
            feeders[k] = feeder
            proc.process.standardInput = feeder.readEnd
        } else {
            proc.process.standardInput = FileHandle.nullDevice
        }
        proc.process.standardError = try HostProcess.output(proc.log)
        try proc.process.run()
        processes.append(proc)
        if role == "client" { try? feeders[k]?.readEnd.close() } // the client's copy is its own
    }

    /// THE course timeline with 0.3 s stages: acceptors, learners, proposer 1 (the initial leader),
    /// proposer 2, clients (t0 = client 1's start); then both clients' values fed over `feedMs`.
    func start(stage: Double, feedMs: Int) throws {
        for k in 1...hosts { try launch("acceptor", k) }
        Thread.sleep(forTimeInterval: stage)
        for k in 1...hosts { try launch("learner", k) }
        Thread.sleep(forTimeInterval: stage)
        try launch("proposer", 1)
        Thread.sleep(forTimeInterval: stage)
        try launch("proposer", 2)
        Thread.sleep(forTimeInterval: stage)
        t0 = nowMs()
        try launch("client", 1)
        try launch("client", 2)
        let chunk = max(1, (n * 100 + feedMs - 1) / feedMs) // lines per 0.1 s
        for k in 1...2 {
            let lines = (try String(contentsOfFile: valueFiles[k - 1], encoding: .utf8)).split(separator: "\n").map(String.init)
            feeders[k]?.start(lines: lines, chunk: chunk)
        }
    }

    var countsText: String { (1...hosts).map { "learner\($0) \(count($0))" }.joined(separator: ", ") }

    /// Counts every learner's lines; the outputs must be prefixes of one sequence, no process but a client
    /// may have exited, and a client that exited must have done so with status 0. The first problem, or nil.
    func sample() -> String? {
        counts = learnFiles.map(LearnerWait.lineCount)
        note(countsText)
        if let problem = OutputCheck.prefixProblem(learnFiles) { return "safety: " + problem }
        for proc in processes where proc.status == nil && !proc.process.isRunning {
            proc.reap()
            proc.selfExit = true
            let status = proc.status ?? 0
            let why = !proc.isClient ? "exited by itself (status \(status))" : status != 0 ? "exited with status \(status)" : nil
            if let why { return "\(proc.label) \(why): \(proc.logTail)" }
        }
        return nil
    }

    /// Every learner has all 2N values and both clients are done.
    var allDone: Bool {
        counts.allSatisfy { $0 >= 2 * n } && processes.filter(\.isClient).allSatisfy { $0.status != nil }
    }

    var clientsRunning: [String] { processes.filter { $0.isClient && $0.status == nil }.map(\.label) }

    enum Poll: Equatable {
        case reached, deadline, problem(String)
    }

    /// Samples every `interval` until `deadline` (ms), or until `until` holds, or a problem.
    func poll(until deadline: Int, interval: Double = 0.2, condition: (() -> Bool)? = nil) -> Poll {
        while true {
            if let problem = sample() { return .problem(problem) }
            if let condition, condition() { return .reached }
            if nowMs() >= deadline { return .deadline }
            Thread.sleep(forTimeInterval: interval)
        }
    }

    /// The proposers' own view from their .status files, e.g. "proposer 1 leader 1.1, proposer 2 follower 1.1".
    func leadersInfo() -> String {
        [1, 2].compactMap { p -> String? in
            guard let text = try? String(contentsOfFile: "\(dir)/host\(p)/state/proposer-\(p).status", encoding: .utf8)
            else { return nil }
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
            }
            guard let mode = fields["mode"] else { return nil }
            return "proposer \(p) \(mode)" + (fields["ballot"].map { " " + $0 } ?? "")
        }.joined(separator: ", ")
    }

    /// Ends the feeding, then stops every process (``HostProcess/stop(_:)``). Safe to call again.
    func stopAll() {
        for feeder in feeders.values { feeder.stop() }
        feeders = [:]
        HostProcess.stop(processes)
    }

    func exitProblems() -> [String] { HostProcess.exitProblems(processes) }

    /// The course's checks on the finished run: identical outputs, every value proposed, learned, exactly
    /// once, and each learner's database (in its own host's folder) equal to its output.
    func check() -> OutputCheck.Verdict {
        OutputCheck(values: valueFiles, learners: (1...hosts).map {
            OutputCheck.Learner(output: "\(dir)/learn\($0)", database: "\(dir)/host\($0)/state/learner-\($0).sqlite")
        }).run()
    }
}
