import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

// The long measurements of BENCHMARKS.md: resident memory over millions of values (`memory`), and a long
// history (`history`): a learner catching up a million instances, an acceptor reloading them. Run them
// through scripts/bench.sh memory|history (a private network namespace).

/// What both share: the folder, the config, the processes, and the /proc and status-file readers.
struct LongRunOptions: ParsableArguments {
    @Option(help: "Results folder (default: logs/<name> in the repository, else in the current folder).")
    var out: String?
    @Option(help: "Folder of the repository's scripts (sets the default results folder).")
    var scripts: String?

    func folder(_ name: String) throws -> String {
        let dir = out ?? ((scripts.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path + "/" } ?? "") + "logs/" + name)
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return URL(fileURLWithPath: dir).standardizedFileURL.path
    }
}

func statusField(_ dir: String, _ file: String, _ key: String) -> Int {
    Int(StatusFile.parse(ProcFS.read("\(dir)/paxos-state/\(file).status") ?? "")[key] ?? "") ?? 0
}

func lineCount(_ path: String) -> Int {
    guard let data = FileManager.default.contents(atPath: path) else { return 0 }
    return data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
}

func header(_ what: String) -> String {
    let date = ISO8601DateFormatter().string(from: Date()).prefix(16)
    return "# \(what) (\(date)Z, \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(ProcFS.loadAverage()))"
}

/// Writes `text` to `path` and to standard output.
func publish(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    print(text, terminator: "")
}

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Resident memory over a long run: the full cluster decides -n values per client while every process's RSS is sampled each second.",
        discussion: "Memory must not grow with the number of values. Results: OUT/memory.md and OUT/rss.txt (default logs/memory).")
    @Option(name: .customShort("n"), help: "Values per client.") var n = 5_000_000
    @OptionGroup var options: LongRunOptions

    func run() throws {
        try guarded(tool: tool) {
            guard n > 0 else { throw StartupError("-n needs a positive number") }
            let out = try options.folder("memory"), conf = out + "/paxos.conf", paxos = paxosBinary()
            try writeConfig(conf)
            let procs = Processes()
            defer { procs.stopAll() }
            let roles = ["acceptor1", "acceptor2", "acceptor3", "learner1", "learner2", "proposer1", "proposer2", "client1", "client2"]
            for i in 1...3 { try procs.spawn("acceptor\(i)", stdout: "\(out)/acceptor\(i).log", stderr: "\(out)/acceptor\(i).err", [paxos, "acceptor", "\(i)", conf]) }
            for i in 1...2 { try procs.spawn("learner\(i)", stdout: "/dev/null", stderr: "\(out)/learner\(i).err", [paxos, "learner", "\(i)", conf]) }
            for i in 1...2 { try procs.spawn("proposer\(i)", stdout: "\(out)/proposer\(i).log", stderr: "\(out)/proposer\(i).err", [paxos, "proposer", "\(i)", conf]) }
            sleep(seconds: 1)
            // The inputs are generated on the fly: a file of ten million lines is not the point here.
            for i in 1...2 {
                let feed = "\(out)/feed\(i)"
                guard mkfifo(feed, 0o644) == 0 else { throw StartupError("mkfifo \(feed): \(String(cString: strerror(errno)))") }
                let count = n
                Thread.detachNewThread {  // opening the fifo waits for the client to open it
                    guard let handle = FileHandle(forWritingAtPath: feed) else { return }
                    var k = 1
                    while k <= count {
                        let chunk = (k...min(k + 9_999, count)).map { "\($0)\n" }.joined()
                        do { try handle.write(contentsOf: Data(chunk.utf8)) } catch { break }
                        k += 10_000
                    }
                    try? handle.close()
                }
                // After the writer: posix_spawn waits for the child's exec, and the child's open of the fifo waits
                // for a writer.
                try procs.spawn("client\(i)", stdin: feed, stdout: "\(out)/client\(i).log", stderr: "\(out)/client\(i).err",
                                [paxos, "client", "\(i)", conf, "--timeout", "3600"])
            }
            let start = nowMs()
            var rss = ["t_s " + roles.joined(separator: " ") + " learned"]
            while procs.isRunning("client1") || procs.isRunning("client2") {
                rss.append("\((nowMs() - start) / 1000) " + roles.map { "\(ProcFS.rssKB(procs.pid($0)))" }.joined(separator: " ")
                           + " \(statusField(out, "learner-1", "values"))")
                try Data((rss.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: out + "/rss.txt"))
                sleep(seconds: 1)
            }
            let elapsed = max(nowMs() - start, 1)
            guard procs.reap("client1") == 0, procs.reap("client2") == 0 else { throw StartupError("a client failed (see \(out)/client*.err)") }
            sleep(seconds: 1.2)
            let samples = rss.dropFirst().map { $0.split(separator: " ").map { Int($0) ?? 0 } }
            let at10 = samples.first { $0[0] >= 10 }
            var lines = [header("Memory over \(2 * n) values"), "",
                         "- \(2 * n) values decided in \(fmtSeconds(elapsed)) s (\(2 * n * 1000 / elapsed) values/s); learner 1 reports \(statusField(out, "learner-1", "values")) delivered",
                         "- resident memory in kB: at 10 s, at the end, and the maximum (samples each second in rss.txt)", "",
                         "| process | RSS at 10 s | RSS at end | max |", "|---|---|---|---|"]
            for (k, role) in roles.enumerated() {
                let column = samples.map { $0[k + 1] }
                lines.append("| \(role) | \(at10?[k + 1] ?? 0) | \(column.last { $0 > 0 } ?? 0) | \(column.max() ?? 0) |")
            }
            try publish(lines.joined(separator: "\n") + "\n", to: out + "/memory.md")
        }
    }
}

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Long history: how fast a learner N instances behind catches up, how long an acceptor takes to reload N instances, and memory while the history grows.",
        discussion: """
            Values are 40-character lines (or --value-bytes long) and batches are capped at 64 bytes, so each instance carries \
            one value. Learner 2 \
            is not started until the end, so the acceptors (learner-count 2) cannot trim and keep the whole history; acceptor 3 \
            is restarted before that. Results: OUT/history.md and OUT/rss.txt (default logs/history).
            """)
    @Option(name: .customShort("n"), help: "Instances (values) in the history.") var n = 1_000_000
    @Option(name: .customLong("value-bytes"),
            help: "Bytes per value (at least 20): -n 200 --value-bytes 1048576 has learner 2 catch up on 200 values of 1 MiB.")
    var valueBytes = 40
    @OptionGroup var options: LongRunOptions

    func run() throws {
        try guarded(tool: tool) {
            guard n > 0 else { throw StartupError("-n needs a positive number") }
            guard valueBytes >= 20 else { throw StartupError("--value-bytes needs at least 20 (the value's number)") }
            let out = try options.folder("history"), conf = out + "/paxos.conf", paxos = paxosBinary()
            try writeConfig(conf, extra: "batch-bytes 64\nwindow 1024\nclient-window 8192\n"
                            + (valueBytes > 1 << 20 ? "max-value-bytes \(valueBytes)\n" : ""))
            let filler = String(repeating: "x", count: valueBytes - 20)
            try Data((1...n).map { String(format: "%020d", $0) + filler + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: out + "/values"))
            let procs = Processes()
            defer { procs.stopAll() }
            func start(_ role: String, _ id: Int, append: Bool = false) throws {
                try procs.spawn("\(role)\(id)", stdout: "\(out)/\(role)\(id).log", stderr: "\(out)/\(role)\(id).err", append: append,
                                [paxos, role, "\(id)", conf])
            }
            for i in 1...3 { try start("acceptor", i) }
            try start("learner", 1)
            try start("proposer", 1)
            sleep(seconds: 1)

            note("building a history of \(n) instances")
            var t0 = nowMs()
            try procs.spawn("client1", stdin: out + "/values", stdout: out + "/client1.log", stderr: out + "/client1.err",
                            [paxos, "client", "1", conf, "--timeout", "3600"])
            var rss = ["t_s acceptor1_kb proposer1_kb learner1_kb client1_kb delivered"]
            while procs.isRunning("client1") {
                rss.append("\((nowMs() - t0) / 1000) " + ["acceptor1", "proposer1", "learner1", "client1"].map { "\(ProcFS.rssKB(procs.pid($0)))" }
                    .joined(separator: " ") + " \(lineCount(out + "/learner1.log"))")
                try Data((rss.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: out + "/rss.txt"))
                sleep(seconds: 1)
            }
            guard procs.reap("client1") == 0 else { throw StartupError("the client failed (see \(out)/client1.err)") }
            let builtMs = nowMs() - t0
            while lineCount(out + "/learner1.log") < n { sleep(seconds: 0.1) }
            sleep(seconds: 1.2)  // the status file is rewritten every second
            let instances = statusField(out, "learner-1", "instance")
            note("history built: \(n) values, about \(instances) instances, in \(fmtSeconds(builtMs)) s")

            note("restarting acceptor 3 with its history")
            procs.kill9("acceptor3")
            func starts() -> [Substring] { (ProcFS.read(out + "/acceptor3.err") ?? "").split(separator: "\n").filter { $0.contains("acceptor 3 starts") } }
            let before = starts().count
            try start("acceptor", 3, append: true)
            while starts().count <= before { sleep(seconds: 0.05) }
            let line = String(starts().last!)
            func field(_ key: String) -> String {
                guard let r = line.range(of: " \(key)=") else { return "?" }
                return String(line[r.upperBound...].prefix { $0 != " " })
            }

            note("starting learner 2, \(instances) instances behind")
            t0 = nowMs()
            try start("learner", 2)
            while lineCount(out + "/learner2.log") < n {
                guard nowMs() - t0 < 600_000 else { throw StartupError("learner 2 did not catch up within 600 s") }
                sleep(seconds: 0.05)
            }
            let catchupMs = max(nowMs() - t0, 1)
            guard FileManager.default.contentsEqual(atPath: out + "/learner1.log", andPath: out + "/learner2.log") else {
                throw StartupError("learner 2's output differs from learner 1's")
            }
            let first = rss.dropFirst().first?.split(separator: " ") ?? [], last = rss.dropFirst().last?.split(separator: " ") ?? []
            func kb(_ row: [Substring], _ i: Int) -> String { i < row.count ? String(row[i]) : "0" }
            let text = [header("Long-history run"), "",
                        "- history: \(n) values in \(instances) instances, decided in \(fmtSeconds(builtMs)) s",
                        "- learner 2 started \(instances) instances behind: caught up in \(fmtSeconds(catchupMs)) s = \(instances * 1000 / catchupMs) instances/s"
                            + (valueBytes != 40 ? ", \(String(format: "%.1f", Double(n) * Double(valueBytes + 1) / Double(catchupMs) / 1000)) MB/s of \(valueBytes)-byte values" : "")
                            + " (output identical to learner 1)",
                        "- acceptor 3 restarted holding \(field("accepted")) accepted instances: loaded in \(field("loadedIn"))",
                        "- resident memory (kB) every second while the history grew: \(out)/rss.txt",
                        "- RSS first → last sample: acceptor1 \(kb(first, 1)) → \(kb(last, 1)) kB, proposer1 \(kb(first, 2)) → \(kb(last, 2)) kB, learner1 \(kb(first, 3)) → \(kb(last, 3)) kB, client1 \(kb(first, 4)) → \(kb(last, 4)) kB"]
            try publish(text.joined(separator: "\n") + "\n", to: out + "/history.md")
        }
    }
}
