import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

/// `paxos-bench summary OUT`: gathers a results folder of `paxos-bench run` into results.json and
/// results.md: machine.txt, limits/, and every run folder (closed, open-R, classic): report/results.json,
/// cpu.json, classic.json, load-before/after and the processes' stderr logs (their "stopping" line
/// counts datagrams and commits). Every figure is set against the machine limits of the same invocation.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary", abstract: "Write results.json and results.md of a results folder (run does it at its end).")
    @Argument(help: "The results folder.") var out: String

    func run() throws {
        try guarded(tool: tool) { FileHandle.standardError.write(Data(try Summary.write(out: out).utf8)) }
    }
}

struct MulticastLine: Codable {
    var datagrams: Int
    var per_s: Double
}

struct Limit: Codable {
    // multicast
    var sent_per_s: Double?
    var received_per_s_each: [Double]?
    var received_per_s_min: Double?
    var loss: [Double?]?
    // SQLite
    var transactions_per_s: Double?
    var rows_per_s: Double?
    var transactions_per_s_per_writer: [Double]?
    var commit_ms_p50: Double?
    var commit_ms_p99: Double?
    var commit_ms_mean: Double?
}

struct RunSummary: Codable {
    var name: String
    var load_before = "", load_after = ""
    var fsync_before: FsyncProbe?, fsync_after: FsyncProbe?
    var udp: [String: Int]?
    var socket_drops: [String: Int] = [:]
    var check = ""
    var counters: [String: [String: Int]] = [:]
    var cpu_servers_s = 0.0, cpu_servers_lifetime_s = 0.0
    var cpu_per_process_s: [String: Double] = [:]
    var machine_busy_s: Double?
    var report: BenchResults?
    var classic: ClassicFile?
    var cpu_total_s: Double?, cpu_s_per_1000_values: Double?
    var duration_s: Double?, values_per_s: Double?, values: Int?
    var ratios: [String: Double] = [:]
    var ratioOrder: [String] = []

    enum CodingKeys: String, CodingKey {
        case name, load_before, load_after, fsync_before, fsync_after, udp, socket_drops, check, counters, cpu_servers_s,
             cpu_servers_lifetime_s, cpu_per_process_s, machine_busy_s, report, classic, cpu_total_s, cpu_s_per_1000_values,
             duration_s, values_per_s, values, ratios
    }

    mutating func ratio(_ key: String, _ value: Double) {
        ratios[key] = value
        ratioOrder.append(key)
    }
}

struct Target: Codable {
    var target: String
    var measured: String
    var reached: Bool?
}

struct SummaryFile: Codable {
    var machine: String
    var limits: [String: Limit]
    var runs: [RunSummary]
    var targets: [Target]
}

enum Summary {
    static let targetValuesPerS = 100_000.0, targetP50 = 1.0, targetP99 = 10.0, targetOpenRate = 10_000.0, targetClassicMs = 5_000

    static func text(_ path: String) -> String {
        (FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func files(_ dir: String, _ match: (String) -> Bool) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter(match).sorted().map { dir + "/" + $0 }
    }

    /// The counters of a process's last "stopping" log line.
    static func stopCounters(_ path: String) -> [String: Int]? {
        guard let line = text(path).split(separator: "\n").last(where: { $0.contains("stopping") }) else { return nil }
        var c: [String: Int] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "," }) {
            let kv = word.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, ["received", "dropped", "rejected", "sent", "commits"].contains(String(kv[0])),
                  let v = Int(kv[1]) else { continue }
            c[String(kv[0])] = v
        }
        return c
    }

    static func limits(_ out: String) -> [String: Limit] {
        let d = out + "/limits"
        var res: [String: Limit] = [:]
        for receivers in [1, 3] {
            let recvs = files(d) { $0.hasPrefix("mcast-1to\(receivers)-recv") }.compactMap { readJSON(MulticastLine.self, $0) }
            if let send = readJSON(MulticastLine.self, "\(d)/mcast-1to\(receivers)-send.json"), !recvs.isEmpty {
                res["multicast_1to\(receivers)"] = Limit(
                    sent_per_s: send.per_s, received_per_s_each: recvs.map(\.per_s), received_per_s_min: recvs.map(\.per_s).min(),
                    loss: recvs.map { send.datagrams > 0 ? 1 - Double($0.datagrams) / Double(send.datagrams) : nil })
            }
        }
        if let q = readJSON(SQLiteLimits.self, d + "/sqlite.json")?.quorum_commit {
            res["sqlite_full_quorum_commit"] = Limit(commit_ms_p50: q.quorum_ms_p50, commit_ms_p99: q.quorum_ms_p99)
            res["sqlite_full_paced_commit"] = Limit(commit_ms_p50: q.alone_ms_p50, commit_ms_p99: q.alone_ms_p99)
        }
        for r in readJSON(SQLiteLimits.self, d + "/sqlite.json")?.results ?? [] {
            let key = "sqlite_full_\(r.rows_per_transaction)_row_tx" + (r.writers == 1 ? "" : "_\(r.writers)_writers")
            res[key] = Limit(transactions_per_s: r.transactions_per_s, rows_per_s: r.rows_per_s,
                             transactions_per_s_per_writer: r.transactions_per_s_per_writer, commit_ms_p50: r.commit_ms_p50,
                             commit_ms_p99: r.commit_ms_p99, commit_ms_mean: r.commit_ms_mean)
        }
        return res
    }

    static func run(_ out: String, _ name: String, _ lim: [String: Limit]) -> RunSummary {
        let d = out + "/" + name
        var s = RunSummary(name: name)
        let cpu = readJSON(CPUFile.self, d + "/cpu.json")
        s.load_before = text(d + "/load-before")
        s.load_after = text(d + "/load-after")
        s.fsync_before = readJSON(FsyncProbe.self, d + "/fsync-before.json")
        s.fsync_after = readJSON(FsyncProbe.self, d + "/fsync-after.json")
        s.udp = readJSON([String: Int].self, d + "/udp.json")
        for line in text(d + "/socket-drops.txt").split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 5 { s.socket_drops[String(f[0]), default: 0] += Int(f[4]) ?? 0 }
        }
        s.check = text(d + "/check.txt").split(separator: "\n").last.map(String.init) ?? ""
        for p in files(d, { $0.hasSuffix(".err") }) + files(d, { $0.hasPrefix("client") && $0.hasSuffix(".log") }) {
            let label = URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent
            if let c = stopCounters(p), !c.isEmpty { s.counters[label] = c }
        }
        let during = cpu.map { $0.servers_during_load.isEmpty ? $0.servers : $0.servers_during_load } ?? [:]
        s.cpu_servers_s = during.values.reduce(0, +)
        s.cpu_servers_lifetime_s = cpu?.servers.values.reduce(0, +) ?? 0
        s.cpu_per_process_s = during
        s.machine_busy_s = cpu?.machine_busy_s
        if let rep = readJSON(BenchResults.self, d + "/report/results.json") {
            s.report = rep
            let values = rep.values_delivered_by_all
            let total = s.cpu_servers_s + rep.clients_cpu_s
            s.cpu_total_s = total
            s.cpu_s_per_1000_values = values > 0 ? total / Double(values) * 1000 : nil
            s.duration_s = rep.duration_s
            s.values_per_s = rep.values_per_s
            s.values = values
        }
        if let cls = readJSON(ClassicFile.self, d + "/classic.json") {
            s.classic = cls
            s.values = cls.expected
            if let ms = cls.all_learned_after_ms, ms > 0 {
                s.duration_s = Double(ms) / 1000
                s.values_per_s = Double(cls.expected) / s.duration_s!
            }
            s.cpu_total_s = s.cpu_servers_s
            s.cpu_s_per_1000_values = cls.expected > 0 ? s.cpu_servers_s / Double(cls.expected) * 1000 : nil
        }
        // Ratios to the machine's limits.
        if let vps = s.values_per_s, vps > 0 {
            for k in ["multicast_1to1", "multicast_1to3"] {
                if let m = lim[k]?.received_per_s_min { s.ratio("values_per_s / \(k) datagrams_per_s", vps / m) }
            }
            if let rows = lim["sqlite_full_100_row_tx"]?.rows_per_s { s.ratio("values_per_s / sqlite_full_100_row_tx rows_per_s", vps / rows) }
        }
        if let dur = s.duration_s, dur > 0, let one = lim["sqlite_full_1_row_tx"], let tx = one.transactions_per_s {
            for (label, c) in s.counters.sorted(by: { $0.key < $1.key })
            where (label.hasPrefix("acceptor") || label.hasPrefix("learner")) && c["commits"] != nil {
                // The process lived longer than the load (warm-up, the stop): a lower bound on its rate.
                s.ratio("\(label) commits_per_s (over the load) / sqlite_full_1_row_tx tx_per_s", Double(c["commits"]!) / dur / tx)
            }
            if let rep = s.report, let p50 = one.commit_ms_p50 {
                s.ratio("latency p50 / one FULL commit (1 writer, p50)", rep.latency.p50_ms / p50)
                if let five = lim["sqlite_full_1_row_tx_5_writers"]?.commit_ms_p50 {
                    s.ratio("latency p50 / one FULL commit (5 writers at once, p50)", rep.latency.p50_ms / five)
                }
                if let quorum = lim["sqlite_full_quorum_commit"]?.commit_ms_p50 {
                    s.ratio("latency p50 / a quorum's commit (2nd of 3 writers at once, paced, p50)", rep.latency.p50_ms / quorum)
                }
            }
        }
        if let dur = s.duration_s, dur > 0, let per = lim["multicast_1to3"]?.received_per_s_min {
            for (label, c) in s.counters.sorted(by: { $0.key < $1.key }) where label.hasPrefix("acceptor") && c["received"] != nil {
                s.ratio("\(label) datagrams_received_per_s / multicast_1to3 per receiver", Double(c["received"]!) / dur / per)
            }
        }
        return s
    }

    /// 12,345 (no decimals) or 0.123 (digits decimals); "–" for nothing.
    static func fmt(_ v: Double?, _ digits: Int = 0) -> String {
        guard let v else { return "–" }
        let f = NumberFormatter()
        f.numberStyle = .decimal
        f.usesGroupingSeparator = true
        f.groupingSeparator = ","
        f.decimalSeparator = "."
        f.minimumFractionDigits = digits
        f.maximumFractionDigits = digits
        return f.string(from: NSNumber(value: v)) ?? "\(v)"
    }

    static func fmt(_ v: Int?) -> String { v.map { fmt(Double($0)) } ?? "–" }

    static func f3(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "–" }

    /// Writes OUT/results.json and OUT/results.md; returns the markdown.
    static func write(out: String) throws -> String {
        let lim = limits(out)
        let names = ["closed", "closed-loss"] + files(out) { $0.hasPrefix("open-") }.map { URL(fileURLWithPath: $0).lastPathComponent }
            + ["classic", "classic-loss"]
        var isDir: ObjCBool = false
        let runs = names.filter { FileManager.default.fileExists(atPath: out + "/" + $0, isDirectory: &isDir) && isDir.boolValue }
            .map { run(out, $0, lim) }
        let machine = text(out + "/machine.txt")

        // The targets of the issue.
        var targets: [Target] = []
        if let best = runs.filter({ !$0.name.hasSuffix("-loss") && ($0.report.map { !$0.open_loop } ?? false) }).max(by: { $0.report!.steady_values_per_s < $1.report!.steady_values_per_s }),
           let rep = best.report {
            let steady = rep.steady_values_per_s, vps = best.values_per_s ?? 0
            targets.append(Target(target: ">= \(fmt(targetValuesPerS)) values/s sustained with durable acceptors",
                                  measured: "\(fmt(vps)) values/s end to end, \(fmt(steady)) steady (\(best.name))",
                                  reached: steady >= targetValuesPerS && vps >= targetValuesPerS))
        }
        // Loss (--loss): the closed loop keeps at least half its lossless throughput, the classic
        // timeline learns everything within 2.5 s.
        if let lossy = runs.first(where: { $0.name == "closed-loss" }), let clean = runs.first(where: { $0.name == "closed" }),
           let l = lossy.values_per_s, let c = clean.values_per_s, c > 0 {
            targets.append(Target(target: "closed loop with --loss: >= 50% of the lossless values/s of the same invocation",
                                  measured: "\(fmt(l)) against \(fmt(c)) values/s = \(Int((l / c * 100).rounded()))%",
                                  reached: l >= c / 2))
        }
        for r in runs {
            if r.name == "classic-loss", let c = r.classic {
                let ms = c.all_learned_after_ms
                targets.append(Target(target: "classic timeline with --loss, \(fmt(c.values_per_client)) values per client, all learned within 2.5 s",
                                      measured: ms.map { String(format: "%.2f s", Double($0) / 1000) } ?? "not all learned",
                                      reached: ms.map { $0 <= 2500 } ?? false))
                continue
            }
            if let rep = r.report, rep.open_loop {
                let asked = rep.clients.reduce(0) { $0 + ($1.rate_asked ?? 0) }
                if abs(asked - targetOpenRate) < 1 {
                    let l = rep.latency
                    targets.append(Target(target: "p50 <= \(fmt(targetP50)) ms and p99 <= \(fmt(targetP99)) ms at an offered \(fmt(targetOpenRate)) values/s",
                                          measured: "p50 \(f3(l.p50_ms)) ms, p99 \(f3(l.p99_ms)) ms (\(r.name))",
                                          reached: l.p50_ms <= targetP50 && l.p99_ms <= targetP99))
                }
            }
            if let c = r.classic {
                let ms = c.all_learned_after_ms
                targets.append(Target(target: "classic timeline, \(fmt(c.values_per_client)) values per client, all learned within \(targetClassicMs / 1000) s",
                                      measured: ms.map { String(format: "%.2f s", Double($0) / 1000) } ?? "not all learned",
                                      reached: ms.map { $0 <= targetClassicMs } ?? false))
            }
        }
        let sync = machine.split(separator: "\n").first { $0.hasPrefix("synchronous: ") }
            .map { String($0.dropFirst(13).split(separator: " ").first ?? "full") } ?? "full"
        if sync != "full" {
            for i in targets.indices {
                targets[i].reached = nil
                targets[i].measured += " — synchronous \(sync): the targets are about durable (full) runs"
            }
        }
        try writeJSON(SummaryFile(machine: machine, limits: lim, runs: runs, targets: targets), to: out + "/results.json")

        var md = ["# paxos benchmark results", "", "## Machine", "", "```", machine, "```", "", "## Machine limits (same invocation)", "",
                  "| limit | figure |", "|---|---|"]
        for k in ["multicast_1to1", "multicast_1to3"] {
            if let v = lim[k] {
                md.append("| raw multicast, 64-byte datagrams, 1 sender → \(k.suffix(1)) receiver(s) | sent \(fmt(v.sent_per_s))/s, "
                          + "received \((v.received_per_s_each ?? []).map { fmt($0) }.joined(separator: ", ")) datagrams/s |")
            }
        }
        for (k, label) in [("sqlite_full_1_row_tx", "1 row per transaction, 1 writer"),
                           ("sqlite_full_100_row_tx", "100 rows per transaction, 1 writer"),
                           ("sqlite_full_1_row_tx_5_writers", "1 row per transaction, 5 writers at once (own databases)"),
                           ("sqlite_full_100_row_tx_5_writers", "100 rows per transaction, 5 writers at once")] {
            guard let v = lim[k] else { continue }
            var extra = ""
            if let p50 = v.commit_ms_p50 { extra = "; commit p50 \(f3(p50)) ms, p99 \(f3(v.commit_ms_p99)) ms" }
            if let per = v.transactions_per_s_per_writer, per.count > 1 {
                extra += "; per writer " + per.map { fmt($0) }.joined(separator: ", ") + " commits/s"
            }
            md.append("| SQLite WAL synchronous=FULL, \(label) | \(fmt(v.transactions_per_s)) commits/s, \(fmt(v.rows_per_s)) rows/s\(extra) |")
        }
        let disk = readJSON(DiskBandwidth.self, out + "/limits/disk.json")
        if let disk {
            md.append("| disk: \(disk.sequential_bytes >> 20) MiB written, then one fdatasync | \(fmt(disk.sequential_mb_per_s, 1)) MB/s |")
            md.append("| disk: SQLite WAL synchronous=FULL, \(disk.sqlite_row_bytes >> 10) KiB rows, \(disk.sqlite_rows_per_transaction) per transaction, 1 writer | \(fmt(disk.sqlite_mb_per_s, 1)) MB/s |")
        }
        if let q = readJSON(SQLiteLimits.self, out + "/limits/sqlite.json")?.quorum_commit {
            md.append("| SQLite WAL synchronous=FULL, 1 row, \(q.writers) writers committing at the same instants \(fmt(q.rounds_per_s)) times a second: "
                      + "until the second is durable (a quorum of acceptors on one disk) | p50 \(f3(q.quorum_ms_p50)) ms, p99 \(f3(q.quorum_ms_p99)) ms; "
                      + "one writer alone at that pace p50 \(f3(q.alone_ms_p50)) ms, p99 \(f3(q.alone_ms_p99)) ms |")
        }
        if let rf = readJSON(SQLiteLimits.self, out + "/limits/sqlite.json")?.raw_fdatasync {
            md.append("| raw fdatasync of a 64-byte write, 1 s | \(fmt(rf.per_s))/s, p50 \(f3(rf.p50_ms)) ms, p99 \(f3(rf.p99_ms)) ms |")
        }
        md.append("")
        for r in runs {
            md += ["## Run `\(r.name)`", "", "| figure | value |", "|---|---|"]
            md.append("| load average before / after | \(r.load_before) / \(r.load_after) |")
            if let fb = r.fsync_before, let fa = r.fsync_after {
                md.append("| raw fdatasync beside the state, 1 s before / after the run | p50 \(f3(fb.p50_ms)) / \(f3(fa.p50_ms)) ms, "
                          + "\(fmt(fb.per_s)) / \(fmt(fa.per_s)) per s |")
            }
            if let v = r.values, v > 0 { md.append("| values (delivered by both learners) | \(fmt(v)) |") }
            if let d = r.duration_s, d > 0 { md.append("| time from the first value fed to the last delivery | \(f3(d)) s |") }
            if let v = r.values_per_s, v > 0 { md.append("| throughput | \(fmt(v)) values/s |") }
            if let v = r.values_per_s, v > 0, let bytes = Int(text(out + "/" + r.name + "/value-bytes").trimmingCharacters(in: .whitespacesAndNewlines)) {
                let mbps = v * Double(bytes) / 1e6
                md.append("| throughput in bytes (\(fmt(Double(bytes)))-byte values) | \(fmt(mbps, 1)) MB/s of values |")
                if let disk {
                    // 3 acceptors and 2 learners each write every value durably once, on one disk.
                    md.append("| ceiling: SQLite 64 KiB rows ÷ 5 durable copies (checkpoints included) | \(fmt(disk.sqlite_mb_per_s / 5, 1)) MB/s: "
                              + "this run reaches \(fmt(mbps / (disk.sqlite_mb_per_s / 5) * 100, 0)) % |")
                    md.append("| ceiling: sequential write ÷ 5 copies ÷ 2 (WAL, then checkpoint) | \(fmt(disk.sequential_mb_per_s / 10, 1)) MB/s: "
                              + "this run reaches \(fmt(mbps / (disk.sequential_mb_per_s / 10) * 100, 0)) % |")
                }
            }
            if let rep = r.report {
                md.append("| steady throughput (10th–90th percentile of deliveries, slowest learner) | \(fmt(rep.steady_values_per_s)) values/s |")
                md.append("| offered | \(fmt(rep.offered_values_per_s)) values/s |")
                let l = rep.latency
                md.append("| latency submission → delivery, all learners | p50 \(f3(l.p50_ms)) ms, p90 \(f3(l.p90_ms)) ms, "
                          + "p99 \(f3(l.p99_ms)) ms, p99.9 \(f3(l.p99_9_ms)) ms, max \(f3(l.max_ms)) ms |")
                if let l = rep.latency_from_schedule {
                    md.append("| latency from the open-loop schedule | p50 \(f3(l.p50_ms)) ms, p99 \(f3(l.p99_ms)) ms, max \(f3(l.max_ms)) ms |")
                }
                for le in rep.learners {
                    let l = le.latency
                    md.append("| learner \(le.learner) | \(fmt(le.delivered)) delivered, \(le.duplicates) duplicates, \(le.missing) missing; "
                              + "p50 \(f3(l.p50_ms)) ms, p99 \(f3(l.p99_ms)) ms, max \(f3(l.max_ms)) ms; peak 1 s \(fmt(le.peak_1s_values_per_s)) values/s |")
                }
            }
            if let c = r.classic {
                md.append("| classic: all learned after | \(fmt(c.all_learned_after_ms)) ms (target \(c.target_ms) ms): **\(c.verdict)** |")
            }
            if let total = r.cpu_total_s {
                let who = r.report != nil ? "cluster (servers from the clients' start to the stop + clients)"
                    : "servers from the clients' start to the stop (clients not measured in the classic run)"
                md.append("| CPU, \(who) | \(String(format: "%.2f", total)) s = \(fmt(r.cpu_s_per_1000_values, 3)) s per 1,000 values |")
                md.append("| CPU of the servers over their whole life (start, warm-up, load, stop) | \(String(format: "%.2f", r.cpu_servers_lifetime_s)) s |")
                md.append("| CPU per process (s) | " + r.cpu_per_process_s.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }
                    .joined(separator: ", ") + (r.report.map { ", clients \(String(format: "%.2f", $0.clients_cpu_s))" } ?? "") + " |")
            }
            if let busy = r.machine_busy_s {
                md.append("| machine busy CPU from the clients' start until all was learned (every process, kernel included) | \(String(format: "%.2f", busy)) s |")
            }
            if !r.counters.isEmpty {
                md.append("| datagrams received / sent, commits | " + r.counters.sorted { $0.key < $1.key }.map { k, c in
                    "\(k) \(fmt(c["received"] ?? 0))/\(fmt(c["sent"] ?? 0)), \(fmt(c["commits"] ?? 0))"
                }.joined(separator: "; ") + " |")
            }
            if let u = r.udp, !u.isEmpty {
                md.append("| UDP in the namespace during the load | \(fmt(u["InDatagrams"])) datagrams received, "
                          + "\(fmt(u["RcvbufErrors"])) dropped for a full receive buffer, \(fmt(u["InErrors"])) receive errors |")
            }
            if !r.socket_drops.isEmpty {
                md.append("| datagrams dropped per socket owner (full receive buffer; servers, read before the stop) | "
                          + r.socket_drops.sorted { $0.key < $1.key }.map { "\($0.key) \(fmt($0.value))" }.joined(separator: ", ") + " |")
            }
            md.append("| checks | \(r.check) |")
            for k in r.ratioOrder { md.append("| ratio: \(k) | \(f3(r.ratios[k])) |") }
            if FileManager.default.fileExists(atPath: "\(out)/\(r.name)/bench.svg") { md += ["", "![\(r.name)](\(r.name)/bench.svg)"] }
            md.append("")
        }
        md += ["## Targets", "", "| target | measured | reached |", "|---|---|---|"]
        for t in targets {
            md.append("| \(t.target) | \(t.measured) | \(t.reached.map { $0 ? "yes" : "**no**" } ?? "n/a") |")
        }
        md.append("")
        let text = md.joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: out + "/results.md"))
        return text + "\n"
    }
}
