import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode
import Histogram

/// `paxos-bench report`: joins the clients' and learners' latency logs (BenchLatencyLog.swift) on
/// (client, incarnation, sequence) and computes latency from submission (the value handed to the client
/// core) to delivery (the value written to a learner's standard output), and throughput over time.
struct BenchReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Benchmark: latency and throughput from the clients' and learners' latency logs.",
        discussion: """
            Writes DIR/results.json (figures), DIR/throughput.csv (values/s per bucket: offered by the clients \
            and delivered by each learner, with the latency of the values delivered in the bucket) and \
            DIR/latency.csv (latency at percentiles, overall and per learner), and prints a summary.
            """)

    @Option(name: .customLong("client-log"), help: "A client's latency log (repeat for each client).")
    var clientLogs: [String] = []

    @Option(name: .customLong("learner-log"), help: "A learner's latency log (repeat for each learner).")
    var learnerLogs: [String] = []

    @Option(help: "Folder for results.json, throughput.csv and latency.csv.")
    var out: String

    @Option(help: "Width of the throughput buckets in milliseconds.")
    var bucketMs: Int = 100

    @Option(help: "Free text stored in results.json (e.g. the mode of the run).")
    var label: String = ""

    func run() throws {
        try guarded(tool: tool) {
            guard !clientLogs.isEmpty, !learnerLogs.isEmpty else {
                throw StartupError("report needs at least one --client-log and one --learner-log")
            }
            guard bucketMs >= 1 else { throw StartupError("--bucket-ms must be 1 or more") }
            let report = try Self.write(clientLogs: clientLogs, learnerLogs: learnerLogs, out: out,
                                        bucketNs: UInt64(bucketMs) * 1_000_000, label: label)
            print(report.summary())
        }
    }

    /// Reads the logs, writes results.json, throughput.csv and latency.csv into `out`.
    static func write(clientLogs: [String], learnerLogs: [String], out: String, bucketNs: UInt64 = 100_000_000,
                      label: String) throws -> BenchAnalysis {
        let clients = try clientLogs.map(ClientLogFile.read)
        let learners = try learnerLogs.map(LearnerLogFile.read)
        let report = BenchAnalysis(clients: clients, learners: learners, bucketNs: bucketNs, label: label)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report.results).write(to: URL(fileURLWithPath: out + "/results.json"))
        try Data(report.throughputCSV().utf8).write(to: URL(fileURLWithPath: out + "/throughput.csv"))
        try Data(report.latencyCSV().utf8).write(to: URL(fileURLWithPath: out + "/latency.csv"))
        return report
    }
}

// MARK: - Reading the logs

/// A latency log's bytes, once its magic and version are those of a `kind` log.
func readLatencyLog(_ path: String, magic: [UInt8], headerBytes: Int, kind: String) throws -> [UInt8] {
    let bytes = try readBytes(path)
    guard bytes.count >= headerBytes, Array(bytes[0..<4]) == magic else {
        throw StartupError("\(path): not a \(kind) latency log")
    }
    guard u32(bytes, 4) == LatencyLogFormat.version else { throw StartupError("\(path): unknown log version \(u32(bytes, 4))") }
    return bytes
}

struct ClientLogFile {
    var path: String
    var client: UInt32
    var incarnation: UInt64
    var rate: Double
    var cpuUserNs: UInt64
    var cpuSystemNs: UInt64
    /// Indexed by sequence - 1.
    var fed: [UInt64]
    var intended: [UInt64]

    static func read(_ path: String) throws -> ClientLogFile {
        let h = LatencyLogFormat.clientHeaderBytes, r = LatencyLogFormat.clientRecordBytes
        let bytes = try readLatencyLog(path, magic: LatencyLogFormat.clientMagic, headerBytes: h, kind: "client")
        var log = ClientLogFile(path: path, client: u32(bytes, 8), incarnation: u64(bytes, 16),
                                rate: Double(bitPattern: u64(bytes, 24)), cpuUserNs: u64(bytes, 40),
                                cpuSystemNs: u64(bytes, 48), fed: [], intended: [])
        let count = (bytes.count - h) / r
        log.fed = [UInt64](repeating: 0, count: count)
        log.intended = [UInt64](repeating: 0, count: count)
        for i in 0..<count {
            let o = h + i * r
            let seq = u64(bytes, o)
            guard seq == UInt64(i + 1) else {
                throw StartupError("\(path): record \(i + 1) has sequence \(seq) (expected the k-th value to have sequence k)")
            }
            log.fed[i] = u64(bytes, o + 8)
            log.intended[i] = u64(bytes, o + 16)
        }
        return log
    }
}

struct LearnerLogFile {
    struct Record {
        var client: UInt32
        var incarnation: UInt64
        var sequence: UInt64
        var written: UInt64
    }

    var path: String
    var learner: UInt32
    var records: [Record]

    static func read(_ path: String) throws -> LearnerLogFile {
        let h = LatencyLogFormat.learnerHeaderBytes, r = LatencyLogFormat.learnerRecordBytes
        let bytes = try readLatencyLog(path, magic: LatencyLogFormat.learnerMagic, headerBytes: h, kind: "learner")
        let count = (bytes.count - h) / r
        var records: [Record] = []
        records.reserveCapacity(count)
        for i in 0..<count {
            let o = h + i * r
            records.append(Record(client: u32(bytes, o), incarnation: u64(bytes, o + 8), sequence: u64(bytes, o + 16),
                                  written: u64(bytes, o + 24)))
        }
        return LearnerLogFile(path: path, learner: u32(bytes, 8), records: records)
    }
}

private func readBytes(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw StartupError("cannot read '\(path)'") }
    return [UInt8](data)
}

@inline(__always) private func u64(_ b: [UInt8], _ o: Int) -> UInt64 {
    b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
}

@inline(__always) private func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
    b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
}

// MARK: - Results

struct LatencySummary: Codable {
    var count: UInt64
    var p50_ms: Double
    var p90_ms: Double
    var p99_ms: Double
    var p99_9_ms: Double
    var max_ms: Double
    var mean_ms: Double
    var min_ms: Double
}

struct LearnerResult: Codable {
    var learner: UInt32
    var delivered: Int
    var duplicates: Int
    var unknown: Int
    var missing: Int
    var first_delivery_s: Double
    var last_delivery_s: Double
    /// delivered / (last delivery - first value fed)
    var values_per_s: Double
    /// Deliveries between this learner's 10th and 90th percentile delivery, over that time.
    var steady_values_per_s: Double
    /// The most values delivered in any 1 s window (10 buckets of 100 ms).
    var peak_1s_values_per_s: Double?
    var latency: LatencySummary
    var latency_from_schedule: LatencySummary?
}

struct ClientResult: Codable {
    var client: UInt32
    var incarnation: String
    var values: Int
    var rate_asked: Double?
    var offered_values_per_s: Double
    var cpu_user_s: Double
    var cpu_system_s: Double
}

struct BenchResults: Codable {
    var label: String
    var bucket_ms: Double
    var values_fed: Int
    /// Values delivered by every learner.
    var values_delivered_by_all: Int
    /// From the first value fed to the last delivery of the last learner.
    var duration_s: Double
    /// values_delivered_by_all / duration_s
    var values_per_s: Double
    /// The slowest learner's steady rate.
    var steady_values_per_s: Double
    var offered_values_per_s: Double
    var open_loop: Bool
    var latency: LatencySummary
    var latency_from_schedule: LatencySummary?
    var learners: [LearnerResult]
    var clients: [ClientResult]
    var clients_cpu_s: Double
}

typealias NsHistogram = Histogram<UInt64>

private func newHistogram() -> NsHistogram {
    // 1 µs resolution floor, up to one hour, 3 significant digits.
    NsHistogram(lowestDiscernibleValue: 1_000, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
}

private func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }

private func latencySummary(_ h: NsHistogram) -> LatencySummary {
    LatencySummary(count: h.totalCount, p50_ms: ms(h.valueAtPercentile(50)), p90_ms: ms(h.valueAtPercentile(90)),
                   p99_ms: ms(h.valueAtPercentile(99)), p99_9_ms: ms(h.valueAtPercentile(99.9)),
                   max_ms: ms(h.maxRecorded), mean_ms: h.mean / 1e6, min_ms: h.totalCount == 0 ? 0 : ms(h.min))
}

struct BenchAnalysis {
    var results: BenchResults
    private var histograms: [NsHistogram] = []        // per learner
    private var scheduleHistograms: [NsHistogram] = []
    private var overall = newHistogram()
    private var overallSchedule = newHistogram()
    private var fedPerBucket: [Int] = []
    private var deliveredPerBucket: [[Int]] = []     // [learner][bucket]
    private var latenciesPerBucket: [[UInt32]] = []  // µs of every delivery in the bucket, all learners
    private let bucketNs: UInt64
    private let learnerIDs: [UInt32]

    init(clients: [ClientLogFile], learners: [LearnerLogFile], bucketNs: UInt64, label: String) {
        self.bucketNs = bucketNs
        learnerIDs = learners.map(\.learner)
        let openLoop = clients.contains { $0.rate > 0 }
        struct Key: Hashable { var client: UInt32; var incarnation: UInt64 }
        var index: [Key: Int] = [:]
        for (i, c) in clients.enumerated() { index[Key(client: c.client, incarnation: c.incarnation)] = i }
        let t0 = clients.compactMap(\.fed.first).min() ?? 0
        let lastFed = clients.compactMap(\.fed.last).max() ?? t0
        let valuesFed = clients.reduce(0) { $0 + $1.fed.count }

        func bucket(_ t: UInt64) -> Int { t > t0 ? Int((t - t0) / bucketNs) : 0 }
        func grow<T>(_ a: inout [T], to i: Int, with v: T) { if a.count <= i { a.append(contentsOf: repeatElement(v, count: i + 1 - a.count)) } }

        for c in clients {
            for t in c.fed {
                let b = bucket(t)
                grow(&fedPerBucket, to: b, with: 0)
                fedPerBucket[b] += 1
            }
        }

        // For each submission, how many learners delivered it (to count values delivered by all).
        var deliveredBy = clients.map { [UInt8](repeating: 0, count: $0.fed.count) }
        var learnerResults: [LearnerResult] = []
        var lastDeliveryAll: UInt64 = t0
        for (li, l) in learners.enumerated() {
            var h = newHistogram(), hs = newHistogram()
            var seen = clients.map { [Bool](repeating: false, count: $0.fed.count) }
            var duplicates = 0, unknown = 0, delivered = 0
            var times: [UInt64] = []
            times.reserveCapacity(l.records.count)
            deliveredPerBucket.append([])
            for r in l.records {
                guard let ci = index[Key(client: r.client, incarnation: r.incarnation)], r.sequence >= 1, r.sequence <= UInt64(clients[ci].fed.count) else {
                    unknown += 1
                    continue
                }
                let k = Int(r.sequence - 1)
                if seen[ci][k] {
                    duplicates += 1
                    continue
                }
                seen[ci][k] = true
                deliveredBy[ci][k] += 1
                delivered += 1
                let fed = clients[ci].fed[k]
                let latency = r.written > fed ? r.written - fed : 0
                _ = h.record(min(latency, h.highestTrackableValue))
                if openLoop {
                    let intended = clients[ci].intended[k]
                    _ = hs.record(min(r.written > intended ? r.written - intended : 0, hs.highestTrackableValue))
                }
                times.append(r.written)
                let b = bucket(r.written)
                grow(&deliveredPerBucket[li], to: b, with: 0)
                deliveredPerBucket[li][b] += 1
                grow(&latenciesPerBucket, to: b, with: [])
                latenciesPerBucket[b].append(UInt32(min(latency / 1_000, UInt64(UInt32.max))))
            }
            times.sort()
            let first = times.first ?? t0, last = times.last ?? t0
            lastDeliveryAll = max(lastDeliveryAll, last)
            var steady = 0.0
            if times.count >= 20 {
                let a = times[times.count / 10], b = times[times.count * 9 / 10]
                if b > a { steady = Double(times.count * 8 / 10) / (Double(b - a) / 1e9) }
            }
            let perBucket = deliveredPerBucket[li]
            var peak = 0
            let window = max(Int(1_000_000_000 / bucketNs), 1)
            let longEnough = perBucket.count >= window
            var sum = 0
            for (i, n) in perBucket.enumerated() {
                sum += n
                if i >= window { sum -= perBucket[i - window] }
                peak = max(peak, sum)
            }
            let span = Double(last > t0 ? last - t0 : 1) / 1e9
            learnerResults.append(LearnerResult(
                learner: l.learner, delivered: delivered, duplicates: duplicates, unknown: unknown,
                missing: valuesFed - delivered,
                first_delivery_s: Double(first > t0 ? first - t0 : 0) / 1e9, last_delivery_s: Double(last > t0 ? last - t0 : 0) / 1e9,
                values_per_s: Double(delivered) / span, steady_values_per_s: steady,
                peak_1s_values_per_s: longEnough ? Double(peak) * 1e9 / Double(UInt64(window) * bucketNs) : nil,
                latency: latencySummary(h), latency_from_schedule: openLoop ? latencySummary(hs) : nil))
            histograms.append(h)
            scheduleHistograms.append(hs)
            overall.add(h)
            overallSchedule.add(hs)
        }
        let all = deliveredBy.reduce(0) { acc, a in acc + a.reduce(0) { $0 + ($1 == UInt8(learners.count) ? 1 : 0) } }
        let duration = Double(lastDeliveryAll > t0 ? lastDeliveryAll - t0 : 1) / 1e9
        let clientResults = clients.map { c -> ClientResult in
            let span = Double((c.fed.last ?? 0) - (c.fed.first ?? 0)) / 1e9
            return ClientResult(client: c.client, incarnation: String(c.incarnation), values: c.fed.count,
                                rate_asked: c.rate > 0 ? c.rate : nil,
                                offered_values_per_s: span > 0 ? Double(c.fed.count) / span : 0,
                                cpu_user_s: Double(c.cpuUserNs) / 1e9, cpu_system_s: Double(c.cpuSystemNs) / 1e9)
        }
        let feedSpan = Double(lastFed > t0 ? lastFed - t0 : 0) / 1e9
        results = BenchResults(
            label: label, bucket_ms: Double(bucketNs) / 1e6, values_fed: valuesFed, values_delivered_by_all: all,
            duration_s: duration, values_per_s: Double(all) / duration,
            steady_values_per_s: learnerResults.map(\.steady_values_per_s).min() ?? 0,
            offered_values_per_s: feedSpan > 0 ? Double(valuesFed) / feedSpan : 0, open_loop: openLoop,
            latency: latencySummary(overall), latency_from_schedule: openLoop ? latencySummary(overallSchedule) : nil,
            learners: learnerResults, clients: clientResults,
            clients_cpu_s: clientResults.reduce(0) { $0 + $1.cpu_user_s + $1.cpu_system_s })
    }

    /// time_s, offered_per_s, learner<i>_per_s..., latency_p50_ms, latency_p99_ms, latency_max_ms
    func throughputCSV() -> String {
        let buckets = max(fedPerBucket.count, deliveredPerBucket.map(\.count).max() ?? 0)
        let perSecond = 1e9 / Double(bucketNs)
        var lines = ["time_s,offered_per_s," + learnerIDs.map { "learner\($0)_per_s" }.joined(separator: ",")
            + ",latency_p50_ms,latency_p99_ms,latency_max_ms"]
        for b in 0..<buckets {
            var row = [String(format: "%.3f", Double(UInt64(b) * bucketNs) / 1e9),
                       String(format: "%.0f", Double(b < fedPerBucket.count ? fedPerBucket[b] : 0) * perSecond)]
            for d in deliveredPerBucket { row.append(String(format: "%.0f", Double(b < d.count ? d[b] : 0) * perSecond)) }
            if b < latenciesPerBucket.count, !latenciesPerBucket[b].isEmpty {
                let sorted = latenciesPerBucket[b].sorted()
                func at(_ p: Double) -> Double { Double(sorted[min(Int(Double(sorted.count) * p), sorted.count - 1)]) / 1e3 }
                row += [String(format: "%.3f", at(0.5)), String(format: "%.3f", at(0.99)), String(format: "%.3f", Double(sorted.last!) / 1e3)]
            } else {
                row += ["", "", ""]
            }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// percentile, one_over_tail (1/(1-p), for a log axis), overall_ms, learner<i>_ms...,
    /// and from_schedule_ms (open loop: latency counted from when the schedule wanted the value fed).
    func latencyCSV() -> String {
        var percentiles: [Double] = (0..<90).map(Double.init)
        var x = 1.0
        while x <= 5.0001 {
            percentiles.append(100 * (1 - pow(10, -x)))
            x += 0.05
        }
        percentiles.append(100)
        let open = results.open_loop
        var lines = ["percentile,one_over_tail,overall_ms," + learnerIDs.map { "learner\($0)_ms" }.joined(separator: ",")
            + (open ? ",from_schedule_ms" : "")]
        for p in percentiles {
            let tail = p >= 100 ? "" : String(format: "%.3f", 1 / (1 - p / 100))
            var row = [String(format: "%.5f", p), tail, String(format: "%.4f", ms(overall.valueAtPercentile(p)))]
            for h in histograms { row.append(String(format: "%.4f", ms(h.valueAtPercentile(p)))) }
            if open { row.append(String(format: "%.4f", ms(overallSchedule.valueAtPercentile(p)))) }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func summary() -> String {
        let r = results
        func lat(_ l: LatencySummary) -> String {
            String(format: "p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, p99.9 %.3f ms, max %.3f ms (n=%llu)",
                   l.p50_ms, l.p90_ms, l.p99_ms, l.p99_9_ms, l.max_ms, l.count)
        }
        var lines = [
            String(format: "values fed %d, delivered by every learner %d, in %.3f s: %.0f values/s (steady %.0f values/s, offered %.0f values/s)",
                   r.values_fed, r.values_delivered_by_all, r.duration_s, r.values_per_s, r.steady_values_per_s,
                   r.offered_values_per_s),
            "latency (submission to delivery, all learners): " + lat(r.latency),
        ]
        if let s = r.latency_from_schedule { lines.append("latency from the open-loop schedule: " + lat(s)) }
        for l in r.learners {
            lines.append(String(format: "learner %u: %d delivered (%d duplicates, %d unknown, %d missing), %.0f values/s, ",
                                l.learner, l.delivered, l.duplicates, l.unknown, l.missing, l.values_per_s) + lat(l.latency))
        }
        lines.append(String(format: "clients' CPU: %.2f s", r.clients_cpu_s))
        return lines.joined(separator: "\n")
    }
}
