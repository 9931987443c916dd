import ArgumentParser
import Foundation
import Metrics
import PaxosCore
import PaxosNode
import PaxosCommandLine
import Prometheus

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show every live process of a cluster: role, id, position in the log, lag and dropped datagrams.",
        discussion: "Reads the .status files the processes keep in the state folder (refreshed every second).")

    @Argument(help: "The cluster configuration file.")
    var config: String

    @Option(help: "Folder of the state files (default: paxos-state/ beside the config file).")
    var state: String?

    @Flag(help: "Also list processes that stopped or stopped reporting.")
    var all = false

    func run() throws {
        try guarded {
            let folder = try stateFolder()
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            var rows: [[String: String]] = []
            let now = Date().timeIntervalSince1970
            for name in names.sorted() where name.hasSuffix(".status") {
                guard let data = FileManager.default.contents(atPath: folder + "/" + name) else { continue }
                var fields = StatusFile.parse(String(decoding: data, as: UTF8.self))
                let pid = Int32(fields["pid"] ?? "") ?? 0
                let fresh = now - (Double(fields["updated"] ?? "") ?? 0) < 5
                let alive = pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
                let live = fields["state"] == "running" && fresh && alive
                if !live { fields["state"] = fields["state"] == "running" ? "silent" : (fields["state"] ?? "?") }
                if live || all { rows.append(fields) }
            }
            print(Self.table(rows, folder: folder))
        }
    }

    func stateFolder() throws -> String {
        if let state { return state }
        return try NodeStartup.readConfig(config).stateFolder(configPath: config)
    }

    /// One line per process; a learner's lag is how far its delivered instance trails the highest
    /// instance any live proposer or learner reports decided.
    /// Pieces of messages longer than one datagram (big values) this process received, when there were any.
    static func fragmentsNote(_ count: String?) -> String {
        guard let n = count.flatMap({ Int($0) }), n > 0 else { return "" }
        return ", \(n) fragment\(n == 1 ? "" : "s") received"
    }

    static func table(_ rows: [[String: String]], folder: String) -> String {
        guard !rows.isEmpty else { return "no live paxos process reports in \(folder)" }
        let decided = rows.filter { $0["role"] == "proposer" || $0["role"] == "learner" }
            .compactMap { UInt64($0["instance"] ?? "") }.max() ?? 0
        let order = ["acceptor": 0, "proposer": 1, "learner": 2, "client": 3]
        let sorted = rows.sorted {
            (order[$0["role"] ?? ""] ?? 9, Int($0["id"] ?? "") ?? 0) < (order[$1["role"] ?? ""] ?? 9, Int($1["id"] ?? "") ?? 0)
        }
        var lines = [["ROLE", "ID", "PID", "STATE", "INSTANCE", "LAG", "VALUES", "RECEIVED", "DROPPED", "REJECTED", "FOREIGN", "DETAIL"]]
        for r in sorted {
            let instance = UInt64(r["instance"] ?? "") ?? 0
            let lag = r["role"] == "learner" ? "\(decided > instance ? decided - instance : 0)" : "-"
            let detail: String
            switch r["role"] {
            case "proposer": detail = "\(r["mode"] ?? "?") ballot \(r["ballot"] ?? "?") backlog \(r["backlog"] ?? "?")"
            case "acceptor":
                detail = (r["recovering"] == "yes" ? "recovering (no vote yet) " : "")
                    + "promised \(r["promised"] ?? "?") accepted \(r["accepted"] ?? "?")"
                    + ((UInt64(r["trimmed"] ?? "") ?? 0) > 0 ? " trimmed through \(r["trimmed"]!)" : "")
            case "learner": detail = "heard up to \(r["heard"] ?? "?")"
            case "client": detail = "undecided \(r["undecided"] ?? "?")"
            default: detail = ""
            }
            lines.append([r["role"] ?? "?", r["id"] ?? "?", r["pid"] ?? "?", r["state"] ?? "?", "\(instance)", lag,
                          r["values"] ?? "0", r["received"] ?? "0", r["dropped"] ?? "0", r["rejected"] ?? "0",
                          r["foreign"] ?? "0", detail + Self.fragmentsNote(r["fragments"])
                            + ((Int(r["twin"] ?? "") ?? 0) > 0 ? " (heard its own id from another process)" : "")])
        }
        let widths = (0..<lines[0].count).map { c in lines.map { $0[c].count }.max() ?? 0 }
        return lines.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
