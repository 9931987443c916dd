#if canImport(Glibc)
import Glibc
#endif

/// A node's counters and position, as reported to the operator.
public struct StatusReport: Sendable {
    public var running: Bool
    public var counters: NodeCounters
    public var rejected: Int
    /// Datagrams the transport failed to send (no route, buffer full...).
    public var sendErrors: Int
    public var progress: NodeProgress

    public init(running: Bool, counters: NodeCounters, rejected: Int, sendErrors: Int, progress: NodeProgress) {
        self.running = running
        self.counters = counters
        self.rejected = rejected
        self.sendErrors = sendErrors
        self.progress = progress
    }
}

/// Each process keeps `<state>/<role>-<id>.status` up to date (about once a second): `key value` lines,
/// replaced atomically, read by `paxos status`. Plain text so `cat` shows it too.
public enum StatusFile {
    public static func render(role: String, id: UInt32, pid: Int32, now: Double, report: StatusReport) -> String {
        var lines: [(String, String)] = [
            ("role", role), ("id", "\(id)"), ("pid", "\(pid)"), ("updated", "\(now)"),
            ("state", report.running ? "running" : "stopped"),
            ("instance", "\(report.progress.instance)"), ("values", "\(report.progress.values)"),
            ("received", "\(report.counters.received)"), ("dropped", "\(report.counters.dropped)"),
            ("foreign", "\(report.counters.foreign)"), ("twin", "\(report.counters.twin)"),
            ("rejected", "\(report.rejected)"), ("sent", "\(report.counters.sent)"),
            ("commits", "\(report.counters.commits)"), ("send-errors", "\(report.sendErrors)"),
            ("fragments", "\(report.counters.fragments)"),
        ]
        lines += report.progress.details
        return lines.map { "\($0) \($1)\n" }.joined()
    }

    /// Writes `text` to `path` through a temporary file and a rename, so readers never see half a file.
    public static func write(_ text: String, to path: String) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        try? OutputRepair.writeAll(fd: fd, bytes: Array(text.utf8))
        close(fd)
        rename(temporary, path)
    }

    public static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            fields[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return fields
    }
}
