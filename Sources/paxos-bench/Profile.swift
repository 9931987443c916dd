import Foundation

/// `run --profile`: from 1 s after the clients start, perf record of every CPU for 2 s (by process:
/// perf-by-process.txt; hottest symbols: perf-by-symbol.txt), then perf trace of acceptor 1, learner 1
/// and proposer 1 for 1.5 s (perf-trace.txt); threads.txt names the thread ids.
enum Profile {
    static func run(dir: String, pids: [String: pid_t]) {
        guard capture(["sh", "-c", "command -v perf"]) != "?" else { note("perf is missing: no profile"); return }
        sleep(seconds: 1)
        // Samples are per thread: name every thread of our processes after its process.
        var role: [String: String] = [:]
        for (label, pid) in pids {
            for task in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [] { role[task] = label }
        }
        try? Data(role.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)\n" }.joined().utf8)
            .write(to: URL(fileURLWithPath: dir + "/threads.txt"))
        let data = dir + "/perf.data"
        guard runToEnd(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-a", "-g", "-o", data, "--", "sleep", "2"],
                       output: "/dev/null") == 0 else { return }
        let traced = ["acceptor1", "learner1", "proposer1"].compactMap { pids[$0].map(String.init) }.joined(separator: ",")
        _ = runToEnd(["perf", "trace", "-s", "-p", traced, "-o", dir + "/perf-trace.txt", "--", "sleep", "1.5"], output: "/dev/null")

        // Share of all samples per process (and per library within it); other processes as "other:COMM".
        let byThread = capture(["perf", "report", "-i", data, "--no-children", "--sort", "pid,dso", "-g", "none", "--stdio"])
        var total: [String: Double] = [:], library: [String: Double] = [:]
        for line in byThread.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ")
            guard f.count >= 3, let pct = Double(f[0].dropLast()) else { continue }
            let t = f[1].split(separator: ":")
            let r = role[String(t[0])] ?? "other:" + (t.count > 1 ? String(t[1]) : "?")
            total[r, default: 0] += pct
            library[r + " " + f[2], default: 0] += pct
        }
        var lines = total.sorted { $0.value > $1.value }.map { String(format: "%6.2f%%  %@", $0.value, $0.key) } + [""]
        lines += library.filter { $0.value >= 0.5 }.sorted { $0.value > $1.value }.map { String(format: "%6.2f%%  %@", $0.value, $0.key) }
        try? Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/perf-by-process.txt"))

        // The 15 hottest symbols of each of our processes (share of all samples).
        let bySymbol = capture(["sh", "-c", "perf report -i '\(data)' --no-children --sort pid,sym -g none --stdio 2>/dev/null"
                                + " | { command -v swift-demangle >/dev/null && swift-demangle --simplified || cat; }"])
        var perRole: [String: [String]] = [:]
        for line in bySymbol.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ", maxSplits: 2)
            guard f.count == 3, f[0].hasSuffix("%"), let r = role[String(f[1].split(separator: ":")[0])] else { continue }
            if perRole[r, default: []].count < 15 { perRole[r, default: []].append("\(r.padding(toLength: 10, withPad: " ", startingAt: 0)) \(f[0])  \(f[2])") }
        }
        try? Data((perRole.keys.sorted().flatMap { perRole[$0]! }.joined(separator: "\n") + "\n").utf8)
            .write(to: URL(fileURLWithPath: dir + "/perf-by-symbol.txt"))
        note("profile: \(dir)/perf-by-process.txt, perf-by-symbol.txt, perf-trace.txt (threads.txt names the threads)")
    }
}
