import Foundation
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

// The processes of a benchmark cluster, and what /proc says about them and about the machine.

/// One line "paxos-bench: ..." on standard error.
func note(_ text: String) {
    try? FileHandle.standardError.write(contentsOf: Data("\(tool): \(text)\n".utf8))
}

/// Ctrl-C or SIGTERM on `run`, `memory` or `history` stops the cluster they started before exiting
/// (each process runs in its own session, so the terminal's signal reaches only this one): SIGTERM to
/// every process group still running, the grace period, then SIGKILL. Blocked in every thread from the
/// start of `main` and taken by one thread with sigwait, like the roles' stop signals.
final class ClusterInterruption: @unchecked Sendable {
    static let shared = ClusterInterruption()
    private let lock = NSLock()
    private var running: Set<pid_t> = []

    func started(_ pid: pid_t) { lock.withLock { _ = running.insert(pid) } }
    func ended(_ pid: pid_t) { lock.withLock { _ = running.remove(pid) } }

    func install() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        Thread.detachNewThread { [self] in
            var signals = blocked
            var sig: Int32 = 0
            while sigwait(&signals, &sig) != 0 {}
            self.stopEverything(after: sig)
        }
    }

    private func stopEverything(after sig: Int32) -> Never {
        let pids = lock.withLock { running }
        if !pids.isEmpty { note("stopping the \(pids.count) processes this run started (signal \(sig))") }
        for pid in pids where kill(-pid, SIGTERM) != 0 { kill(pid, SIGTERM) }
        let grace = Double(ProcessInfo.processInfo.environment["GRACE"] ?? "") ?? 3
        let deadline = Date().addingTimeInterval(grace)
        // Alive means not yet exited: a zombie (exited, unreaped) no longer answers with its group.
        while Date() < deadline, pids.contains(where: { waitpid($0, nil, WNOHANG) == 0 }) { usleep(100_000) }
        for pid in pids where waitpid(pid, nil, WNOHANG) == 0 { kill(-pid, SIGKILL) }
        exit(128 + sig)
    }
}

/// The processes a run started, by label (acceptor1, client2...). Each starts in its own session
/// (setsid: PGID = PID), so a signal to -PID reaches it and anything it forked, and a Ctrl-C on the
/// terminal reaches only this process. Processes are signalled only by the PIDs started here, and only
/// while they are not yet reaped (an unreaped PID cannot have been reused).
final class Processes {
    struct Record {
        var pid: pid_t
        var status: Int32?      // exit status once reaped (128 + signal when killed)
        var selfExit = false    // exited on its own before the stop
        var hardKill = false    // ignored SIGTERM for the grace period
        var reaped = false      // waited for on purpose (reap, kill9): not part of the stop
    }

    private(set) var labels: [String] = []
    private(set) var records: [String: Record] = [:]
    let grace: Double

    init(grace: Double = Double(ProcessInfo.processInfo.environment["GRACE"] ?? "") ?? 3) { self.grace = grace }

    /// Starts `arguments` with standard input from `stdin`, output to `stdout` (appended to with
    /// `append`) and errors to `stderr` (nil: the same file as standard output).
    func spawn(_ label: String, stdin: String = "/dev/null", stdout: String, stderr: String?, append: Bool = false,
               _ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let mode = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, mode, 0o644)
        if let stderr {
            posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let setsid: Int32 = 0x80  // POSIX_SPAWN_SETSID (glibc)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | setsid))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw StartupError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        records[label] = Record(pid: pid)
        ClusterInterruption.shared.started(pid)
        if !labels.contains(label) { labels.append(label) }
    }

    func pid(_ label: String) -> pid_t? { records[label].flatMap { $0.status == nil ? $0.pid : nil } }

    /// Not yet exited (reaps it, recording its status, if it has).
    func isRunning(_ label: String) -> Bool {
        guard var r = records[label], r.status == nil else { return false }
        var status: Int32 = 0
        guard waitpid(r.pid, &status, WNOHANG) == r.pid else { return true }
        ClusterInterruption.shared.ended(r.pid)
        r.status = Self.exitStatus(status)
        records[label] = r
        return false
    }

    /// Waits for the process and records its exit status.
    @discardableResult
    func reap(_ label: String) -> Int32? {
        guard var r = records[label] else { return nil }
        r.reaped = true
        if r.status == nil {
            var status: Int32 = 0
            while waitpid(r.pid, &status, 0) < 0 && errno == EINTR {}
            ClusterInterruption.shared.ended(r.pid)
            r.status = Self.exitStatus(status)
            records[label] = r
        }
        return r.status
    }

    private static func exitStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    func signal(_ sig: Int32, _ label: String) {
        guard let pid = pid(label) else { return }
        if kill(-pid, sig) != 0 { kill(pid, sig) }
    }

    /// A crash, for the restart measurements.
    func kill9(_ label: String) {
        if isRunning(label) { signal(SIGKILL, label) }
        reap(label)
    }

    /// SIGTERM to every running process, up to the grace period to exit, then SIGKILL; records every
    /// exit status, and which processes had exited by themselves before.
    func stopAll() {
        var live: [String] = []
        for label in labels where records[label]?.reaped == false {
            if isRunning(label) {
                live.append(label)
                signal(SIGTERM, label)
            } else {
                records[label]?.selfExit = true
            }
        }
        let deadline = monotonicNanoseconds() + UInt64(grace * 1e9)
        while monotonicNanoseconds() < deadline, live.contains(where: isRunning) { usleep(100_000) }
        for label in live where isRunning(label) {
            records[label]?.hardKill = true
            signal(SIGKILL, label)
        }
        for label in labels { reap(label) }
    }

    /// One line per process that broke the contract (SIGTERM -> prompt exit 0; a client exits 0 by
    /// itself once everything is decided). Empty when all is well.
    func exitProblems() -> [String] {
        labels.compactMap { label in
            guard let r = records[label], let st = r.status else { return nil }
            if r.hardKill { return "\(label) ignored SIGTERM for \(Int(grace))s (killed)" }
            if st != 0 && r.selfExit { return "\(label) exited by itself with status \(st)" }
            if st != 0 { return "\(label) exited with status \(st) after SIGTERM" }
            if r.selfExit && !label.hasPrefix("client") { return "\(label) exited by itself (status 0) before the end" }
            return nil
        }
    }

    func forget() {
        labels = []
        records = [:]
    }
}

// MARK: - /proc

enum ProcFS {
    static let clockTicks = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func read(_ path: String) -> String? {
        // /proc files report size 0: read them to their end.
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.readToEnd()).map { String(decoding: $0, as: UTF8.self) }
    }

    /// utime + stime of a live process in clock ticks (fields 14 and 15 of stat, counted from the
    /// closing parenthesis of the command name, which may hold spaces).
    static func cpuTicks(_ pid: pid_t) -> Int {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return 0 }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        guard f.count > 13 else { return 0 }
        return (Int(f[11]) ?? 0) + (Int(f[12]) ?? 0)
    }

    /// The machine's busy CPU time so far (all CPUs; everything but idle and iowait), in clock ticks.
    static func busyTicks() -> Int {
        guard let line = read("/proc/stat")?.split(separator: "\n").first else { return 0 }
        let f = line.split(separator: " ").dropFirst().map { Int($0) ?? 0 }
        guard f.count >= 8 else { return 0 }
        return f[0] + f[1] + f[2] + f[5] + f[6] + f[7]
    }

    static func loadAverage() -> String {
        (read("/proc/loadavg") ?? "").split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// This network namespace's UDP counters (InDatagrams, InErrors, RcvbufErrors...).
    static func udpCounters() -> [String: Int] {
        let lines = (read("/proc/net/snmp") ?? "").split(separator: "\n").filter { $0.hasPrefix("Udp:") }
        guard lines.count >= 2 else { return [:] }
        let names = lines[0].split(separator: " ").dropFirst(), values = lines[1].split(separator: " ").dropFirst()
        return Dictionary(zip(names.map(String.init), values.map { Int($0) ?? 0 }), uniquingKeysWith: { a, _ in a })
    }

    /// Resident memory of a process in kB (0 once it is gone).
    static func rssKB(_ pid: pid_t?) -> Int {
        guard let pid, let status = read("/proc/\(pid)/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    /// Per process, the datagrams its sockets dropped for a full receive buffer (the "drops" column of
    /// /proc/net/udp, sockets matched to processes by inode): "label port P drops N" lines.
    static func socketDrops(_ pids: [String: pid_t]) -> [String] {
        var owner: [String: String] = [:]
        for (label, pid) in pids {
            let dir = "/proc/\(pid)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                guard let link = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd),
                      link.hasPrefix("socket:[") else { continue }
                owner[String(link.dropFirst(8).dropLast())] = label
            }
        }
        var lines: [String] = []
        for line in (read("/proc/net/udp") ?? "").split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count >= 13, let label = owner[String(f[9])] else { continue }
            let port = Int(f[1].split(separator: ":").last ?? "", radix: 16) ?? 0
            lines.append("\(label) port \(port) drops \(f[f.count - 1])")
        }
        return lines.sorted()
    }
}

/// The output of a short command (for machine.txt), "?" if it fails.
func capture(_ arguments: [String]) -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return "?" }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return process.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
}

/// Runs a command to its end, its output to a file; returns its exit status.
func runToEnd(_ arguments: [String], output: String) -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    // Opened in place, never created by FileManager: its createFile writes a temporary file and renames it
    // over the path, which as root replaced the /dev/null device with a plain file.
    let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return 127 }
    let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
    defer { close(fd) }
    process.standardOutput = handle
    process.standardError = handle
    do { try process.run() } catch { return 127 }
    process.waitUntilExit()
    return process.terminationStatus
}

func sleep(seconds: Double) { usleep(UInt32(seconds * 1e6)) }

func fileSize(_ path: String) -> Int {
    var st = stat()
    return stat(path, &st) == 0 ? Int(st.st_size) : 0
}

/// The course's four config lines; ports BASE, +1000, +2000, +3000. Whitespace irregular on purpose,
/// as in the handout's file.
func writeConfig(_ path: String, ip: String = "239.0.0.1", base: Int = 5000, extra: String = "") throws {
    let text = "clients \(ip) \(base)\nproposers  \(ip)\t\(base + 1000)\nacceptors \(ip)  \(base + 2000)\nlearners\t\(ip) \(base + 3000)\n" + extra
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// N seeded random lines of exactly `bytes` printable characters each (distinct: each starts with its number).
func writeFixedSizeValues(_ path: String, count: Int, bytes: Int, seed: UInt64) throws {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    guard let handle = FileHandle(forWritingAtPath: path) ?? {
        FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }() else { throw StartupError("cannot write '\(path)'") }
    defer { try? handle.close() }
    try handle.truncate(atOffset: 0)
    var line = [UInt8](repeating: 0, count: bytes + 1)
    line[bytes] = 0x0A
    for k in 0..<count {
        let tag = Array("\(seed)-\(k)-".utf8.prefix(bytes))
        line.replaceSubrange(0..<tag.count, with: tag)
        var i = tag.count
        while i < bytes {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            var w = state
            for _ in 0..<8 where i < bytes {
                line[i] = 0x30 + UInt8(w % 64)  // '0'...'o': printable, no newline
                w >>= 6
                i += 1
            }
        }
        try handle.write(contentsOf: line)
    }
}

/// N seeded random integers 0...32767 (the course's range), one a line.
func writeRandomValues(_ path: String, count: Int, seed: UInt64) throws {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var text = ""
    text.reserveCapacity(count * 6)
    for _ in 0..<count {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        text += String(state % 32768)
        text += "\n"
    }
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// Seconds with one decimal, as the scripts print them: 1234 ms -> "1.2".
func fmtSeconds(_ ms: Int) -> String { "\(ms / 1000).\(ms % 1000 / 100)" }

func nowMs() -> Int { Int(monotonicNanoseconds() / 1_000_000) }

/// The `paxos` binary: $PAXOS_BIN, else the one beside this executable.
func paxosBinary() -> String {
    if let bin = ProcessInfo.processInfo.environment["PAXOS_BIN"], !bin.isEmpty { return bin }
    return URL(fileURLWithPath: selfPath()).deletingLastPathComponent().appendingPathComponent("paxos").path
}

/// This executable's path.
func selfPath() -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}
