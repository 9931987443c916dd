import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A course "tests folder" the way the course's own scripts use one: the launchers (this repository's
/// scripts/ folder) copied in as MyPaxos/, a paxos.conf of the course's four lines beside it, every process
/// started from inside MyPaxos/ as `./ROLE.sh ID /abs/path/paxos.conf`; clients read ../prop<i>, learners write
/// ../learn<i>, the others ../<label>.log, each process's stderr ../<label>.err. State lands in paxos-state/
/// beside the config, as the launchers put it.
///
/// As root, in a private network namespace of its own (loopback with multicast routed to it, the classic ports,
/// and optionally an iptables rule dropping a fraction of the group's datagrams — inside that namespace only);
/// otherwise on the host's loopback with random ports below the ephemeral range and no loss.
final class CourseFolder {
    static let group = "239.0.0.1"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static var canUseNamespace: Bool { getuid() == 0 && IPRoute.path != nil }
    static let iptables: String? = ["/usr/sbin/iptables", "/sbin/iptables", "/usr/bin/iptables"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    let dir: String
    let namespace: String?
    let portBase: Int
    /// The current incarnation of each label (e.g. acceptor1).
    private(set) var processes: [String: HostProcess] = [:]
    /// Every incarnation in start order, for the exit checks.
    private var started: [HostProcess] = []

    var config: String { "\(dir)/paxos.conf" }
    var state: String { "\(dir)/paxos-state" }
    func file(_ name: String) -> String { "\(dir)/\(name)" }

    /// A fresh folder named after the scenario; `loss` > 0 needs the namespace (the caller checks for root).
    init(scenario: String, loss: Double) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-it-\(scenario)-\(UUID().uuidString.prefix(8))").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try fm.copyItem(atPath: "\(Self.repository)/scripts", toPath: "\(dir)/MyPaxos")
        if Self.canUseNamespace {
            let name = "paxos-it-\(getpid())-\(scenario)"
            try IPRoute.run(["netns", "add", name])
            namespace = name
            do {
                try IPRoute.run(["-n", name, "link", "set", "lo", "up"])
                try IPRoute.run(["-n", name, "link", "set", "lo", "multicast", "on"])
                try IPRoute.run(["-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"])
                if loss > 0 {
                    guard let iptables = Self.iptables else { throw IPRoute.Failure(description: "iptables is not installed") }
                    let rule = try Paxos.run([IPRoute.path ?? "/usr/sbin/ip", "netns", "exec", name, iptables, "-A", "INPUT", "-d", Self.group,
                                              "-m", "statistic", "--mode", "random", "--probability", "\(loss)", "-j", "DROP"])
                    guard rule.status == 0 else {
                        throw IPRoute.Failure(description: "the loss rule: \(String(decoding: rule.stderr, as: UTF8.self))")
                    }
                }
            } catch {
                _ = Self.deleteNamespace(name)
                throw error
            }
            portBase = 5000
        } else {
            precondition(loss == 0, "loss needs the private network namespace")
            namespace = nil
            portBase = Int.random(in: 10_000..<25_000)
        }
    }

    /// The course's four lines, ports BASE, +1000, +2000, +3000; whitespace irregular on purpose, as in the
    /// handout's file. `extra` lines follow.
    func writeConfig(_ path: String, extra: String = "") throws {
        let g = Self.group
        try "clients \(g) \(portBase)\nproposers  \(g)\t\(portBase + 1000)\nacceptors \(g)  \(portBase + 2000)\nlearners\t\(g) \(portBase + 3000)\n\(extra)"
            .write(toFile: path, atomically: false, encoding: .utf8)
    }

    /// `command` run inside the namespace, if any.
    func inside(_ command: [String]) -> [String] {
        guard let namespace else { return command }
        return [IPRoute.path ?? "/usr/sbin/ip", "netns", "exec", namespace] + command
    }

    /// ./ROLE.sh ID CONFIG from inside MyPaxos/, as the course starts it; `append` keeps the earlier
    /// incarnation's output and errors (a restart).
    func launch(_ role: String, _ id: Int, config: String? = nil, append: Bool = false) throws {
        let label = "\(role)\(id)"
        let proc = HostProcess(label: label, log: file("\(label).err"))
        let command = inside(["./\(role).sh", "\(id)", config ?? self.config])
        proc.process.executableURL = URL(fileURLWithPath: command[0].hasPrefix("./") ? "\(dir)/MyPaxos/\(command[0].dropFirst(2))" : command[0])
        proc.process.arguments = Array(command.dropFirst())
        proc.process.currentDirectoryURL = URL(fileURLWithPath: "\(dir)/MyPaxos")
        var environment = ProcessInfo.processInfo.environment
        environment["PAXOS_BIN"] = Paxos.binary
        if environment["PAXOS_LOG_LEVEL"] == nil { environment["PAXOS_LOG_LEVEL"] = "info" } // the log files want more than the terminal
        proc.process.environment = environment
        proc.process.standardInput = role == "client" ? FileHandle(forReadingAtPath: file("prop\(id)")) : FileHandle.nullDevice
        proc.process.standardOutput = try HostProcess.output(file(role == "learner" ? "learn\(id)" : "\(label).log"), append: append)
        proc.process.standardError = try HostProcess.output(proc.log, append: append)
        try proc.process.run()
        processes[label] = proc
        started.append(proc)
    }

    /// kill -9: a crash.
    func crash(_ label: String) {
        guard let proc = processes[label] else { return }
        proc.crashed = true
        proc.signal(SIGKILL)
        proc.reap()
    }

    /// THE course timeline: acceptors; 1 s; learners (but a late one); 1 s; proposers; `clientDelay`; client 1
    /// (returns its start, epoch ms); for a late learner: 1 s, it, 1 s; client 2.
    func courseTimeline(acceptors: Int, lateLearner: Int?, clientDelay: Double) throws -> Int {
        for id in 1...acceptors { try launch("acceptor", id) }
        Thread.sleep(forTimeInterval: 1)
        for id in 1...2 where id != lateLearner { try launch("learner", id) }
        Thread.sleep(forTimeInterval: 1)
        for id in 1...2 { try launch("proposer", id) }
        Thread.sleep(forTimeInterval: clientDelay)
        let t0 = Int(Date().timeIntervalSince1970 * 1000)
        try launch("client", 1)
        if let lateLearner {
            Thread.sleep(forTimeInterval: 1)
            try launch("learner", lateLearner)
            Thread.sleep(forTimeInterval: 1)
        }
        try launch("client", 2)
        return t0
    }

    /// Stops every process (``HostProcess/stop(_:)``), every incarnation; then the lines of
    /// ``HostProcess/exitProblems(_:)`` but for the labels `tolerated`.
    func stopAll(tolerating tolerated: Set<String> = []) -> [String] {
        HostProcess.stop(started)
        return HostProcess.exitProblems(started.filter { !tolerated.contains($0.label) })
    }

    /// Stops whatever still runs and deletes the namespace. Returns what went wrong.
    func tearDown() -> [String] {
        _ = stopAll()
        guard let namespace else { return [] }
        return Self.deleteNamespace(namespace)
    }

    private static func deleteNamespace(_ name: String) -> [String] {
        var problems: [String] = []
        if let pids = try? IPRoute.run(["netns", "pids", name]), !pids.isEmpty {
            problems.append("processes still running in namespace \(name): \(pids.split(separator: "\n").joined(separator: " "))")
        }
        do { try IPRoute.run(["netns", "del", name]) } catch { problems.append("\(error)") }
        return problems
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }
}
