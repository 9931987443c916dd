import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

/// `paxos-bench plot REPORT_DIR OUT.svg`: one run's figures as an SVG of three panels, from what
/// `report` wrote: the latency distribution (HdrHistogram style: percentile on a log scale of 1/(1-p)),
/// throughput over time (offered and delivered per learner), and latency over time.
struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plot", abstract: "Plot a report folder (latency.csv, throughput.csv) as SVG.")
    @Argument(help: "A folder written by 'report'.") var report: String
    @Argument(help: "The SVG file to write.") var svg: String
    @Option(help: "Title.") var title: String?

    func run() throws {
        try guarded(tool: tool) { try Plot.write(report: report, to: svg, title: title ?? report) }
    }
}

enum Plot {
    struct Series {
        var label: String
        var color: String
        var dashed = false
        var points: [(Double, Double)]
    }

    struct Axis {
        var log: Bool
        var min: Double
        var max: Double
        var ticks: [(Double, String)]
        var label: String

        func scale(_ v: Double, _ length: Double) -> Double {
            let (a, b, x) = log ? (Foundation.log10(min), Foundation.log10(max), Foundation.log10(Swift.max(v, min))) : (min, max, v)
            return b > a ? (x - a) / (b - a) * length : 0
        }
    }

    static func csv(_ path: String) throws -> (header: [String], rows: [[String: String]]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw StartupError("cannot read '\(path)'") }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return ([], []) }
        return (header, lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) })
    }

    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

    static func write(report: String, to path: String, title: String) throws {
        let lat = try csv(report + "/latency.csv"), thr = try csv(report + "/throughput.csv")
        // 1. Latency distribution.
        let tail = lat.rows.filter { !($0["one_over_tail"] ?? "").isEmpty }
        var s1: [Series] = []
        for (i, c) in lat.header.filter({ $0.hasSuffix("_ms") }).enumerated() {
            let pts = tail.compactMap { r in Double(r["one_over_tail"]!).flatMap { x in Double(r[c] ?? "").map { (x, Swift.max($0, 1e-3)) } } }
            s1.append(c == "overall_ms" ? Series(label: "all learners", color: "black", points: pts)
                : c == "from_schedule_ms" ? Series(label: "from the open-loop schedule", color: "#d62728", dashed: true, points: pts)
                : Series(label: String(c.dropLast(3)), color: palette[i % palette.count], points: pts))
        }
        let maxX = s1.flatMap { $0.points.map(\.0) }.max() ?? 10
        let xTicks = zip([1.0, 2, 10, 100, 1000, 10000, 100000], ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"])
            .filter { $0.0 <= maxX }.map { ($0.0, $0.1) }
        let panel1 = panel(s1, x: Axis(log: true, min: 1, max: maxX, ticks: xTicks, label: "percentile"),
                           y: latencyAxis(s1, "latency, submission to delivery (ms)"), title: "latency distribution")
        // 2. Throughput over time.
        let t = thr.rows.map { Double($0["time_s"] ?? "") ?? 0 }
        var s2 = [Series(label: "offered", color: "gray", dashed: true,
                         points: zip(t, thr.rows.map { (Double($0["offered_per_s"] ?? "") ?? 0) / 1000 }).map { ($0, $1) })]
        for (i, c) in thr.header.filter({ $0.hasPrefix("learner") && $0.hasSuffix("_per_s") }).enumerated() {
            s2.append(Series(label: c.replacingOccurrences(of: "_per_s", with: " delivered"), color: palette[i % palette.count],
                             points: zip(t, thr.rows.map { (Double($0[c] ?? "") ?? 0) / 1000 }).map { ($0, $1) }))
        }
        let maxT = t.max() ?? 1, maxK = (s2.flatMap { $0.points.map(\.1) }.max() ?? 1) * 1.05
        let panel2 = panel(s2, x: linearAxis(0, maxT, "seconds since the first value was handed to a client"),
                           y: linearAxis(0, maxK, "thousand values/s (100 ms buckets)"), title: "throughput over time")
        // 3. Latency over time.
        var s3: [Series] = []
        for (c, color, label) in [("latency_p50_ms", "#1f77b4", "p50"), ("latency_p99_ms", "#ff7f0e", "p99"), ("latency_max_ms", "#d62728", "max")] {
            let pts = thr.rows.compactMap { r in Double(r["time_s"] ?? "").flatMap { x in Double(r[c] ?? "").map { (x, Swift.max($0, 1e-3)) } } }
            if !pts.isEmpty { s3.append(Series(label: label, color: color, points: pts)) }
        }
        let panel3 = panel(s3, x: linearAxis(0, maxT, "seconds (bucket of the delivery)"), y: latencyAxis(s3, "latency (ms)"),
                           title: "latency of the values delivered in each 100 ms")
        let svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="1500" height="520" font-family="sans-serif" font-size="12">
            <rect width="1500" height="520" fill="white"/>
            <text x="750" y="24" text-anchor="middle" font-size="16">paxos benchmark: \(escape(title))</text>
            <g transform="translate(70,50)">\(panel1)</g>
            <g transform="translate(570,50)">\(panel2)</g>
            <g transform="translate(1070,50)">\(panel3)</g>
            </svg>

            """
        try Data(svg.utf8).write(to: URL(fileURLWithPath: path))
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }

    static func linearAxis(_ lo: Double, _ hi: Double, _ label: String) -> Axis {
        let hi = hi > lo ? hi : lo + 1
        let raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        let ticks = stride(from: lo, through: hi, by: step).map { ($0, String(format: "%g", $0)) }
        return Axis(log: false, min: lo, max: hi, ticks: ticks, label: label)
    }

    /// 1-2-5 ticks on a log latency axis.
    static func latencyAxis(_ series: [Series], _ label: String) -> Axis {
        let ys = series.flatMap { $0.points.map(\.1) }
        let lo = Swift.max(ys.min() ?? 0.1, 1e-3) / 1.2, hi = (ys.max() ?? 10) * 1.2
        let ticks = (-3...5).flatMap { e in [1.0, 2, 5].map { $0 * pow(10, Double(e)) } }.filter { $0 >= lo && $0 <= hi }
            .map { ($0, String(format: "%g", $0)) }
        return Axis(log: true, min: lo, max: hi, ticks: ticks, label: label)
    }

    /// One 400 x 340 chart with its axes, grid and legend below.
    static func panel(_ series: [Series], x: Axis, y: Axis, title: String) -> String {
        let w = 400.0, h = 340.0
        var out = "<text x=\"\(w / 2)\" y=\"-8\" text-anchor=\"middle\" font-size=\"13\">\(escape(title))</text>"
        out += "<rect width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#444\"/>"
        for (v, text) in x.ticks {
            let px = x.scale(v, w)
            out += "<line x1=\"\(px)\" y1=\"0\" x2=\"\(px)\" y2=\"\(h)\" stroke=\"#ddd\"/><text x=\"\(px)\" y=\"\(h + 16)\" text-anchor=\"middle\">\(text)</text>"
        }
        for (v, text) in y.ticks {
            let py = h - y.scale(v, h)
            out += "<line x1=\"0\" y1=\"\(py)\" x2=\"\(w)\" y2=\"\(py)\" stroke=\"#ddd\"/><text x=\"-6\" y=\"\(py + 4)\" text-anchor=\"end\">\(text)</text>"
        }
        out += "<text x=\"\(w / 2)\" y=\"\(h + 34)\" text-anchor=\"middle\">\(escape(x.label))</text>"
        out += "<text transform=\"translate(-48,\(h / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(y.label))</text>"
        for s in series where !s.points.isEmpty {
            let d = s.points.map { String(format: "%.1f,%.1f", x.scale($0.0, w), h - y.scale($0.1, h)) }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\"\(s.dashed ? " stroke-dasharray=\"5,3\"" : "") points=\"\(d)\"/>"
        }
        for (i, s) in series.enumerated() {
            let lx = Double(i % 2) * 200, ly = h + 54 + Double(i / 2) * 16
            out += "<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 20)\" y2=\"\(ly - 4)\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
            out += "<text x=\"\(lx + 26)\" y=\"\(ly)\">\(escape(s.label))</text>"
        }
        return out
    }
}
