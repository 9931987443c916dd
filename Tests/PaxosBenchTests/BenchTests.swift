import Foundation
import Testing
@testable import paxos_bench

@Suite struct BenchReportTests {
    /// Two clients of 100 values fed 1 ms apart; learner 1 writes each 5 ms after it was fed, learner 2
    /// 10 ms after, and learner 2 also writes one duplicate and one value of a client nobody knows.
    func logs() -> ([ClientLogFile], [LearnerLogFile]) {
        let ms: UInt64 = 1_000_000, t0: UInt64 = 1_000 * ms
        let clients = (1...2).map { c in
            let fed = (0..<100).map { t0 + UInt64($0) * ms + UInt64(c - 1) * ms / 2 }
            return ClientLogFile(path: "c\(c)", client: UInt32(c), incarnation: UInt64(40 + c), rate: 0, cpuUserNs: 1_000_000_000,
                                 cpuSystemNs: 500_000_000, fed: fed, intended: fed)
        }
        func learner(_ id: UInt32, delay: UInt64) -> LearnerLogFile {
            var records: [LearnerLogFile.Record] = []
            for c in clients {
                for (k, fed) in c.fed.enumerated() {
                    records.append(.init(client: c.client, incarnation: c.incarnation, sequence: UInt64(k + 1), written: fed + delay))
                }
            }
            return LearnerLogFile(path: "l\(id)", learner: id, records: records.sorted { $0.written < $1.written })
        }
        var l2 = learner(2, delay: 10 * ms)
        l2.records.append(l2.records[0])
        l2.records.append(.init(client: 9, incarnation: 1, sequence: 1, written: t0))
        return (clients, [learner(1, delay: 5 * ms), l2])
    }

    @Test func latencyAndCountsFromJoinedLogs() {
        let (clients, learners) = logs()
        let r = BenchAnalysis(clients: clients, learners: learners, bucketNs: 100_000_000, label: "t").results
        #expect(r.values_fed == 200)
        #expect(r.values_delivered_by_all == 200)
        #expect(!r.open_loop)
        #expect(abs(r.learners[0].latency.p50_ms - 5) < 0.01)
        #expect(abs(r.learners[1].latency.p50_ms - 10) < 0.01)
        #expect(r.learners[1].duplicates == 1 && r.learners[1].unknown == 1 && r.learners[1].missing == 0)
        #expect(r.latency.count == 400)
        #expect(abs(r.clients_cpu_s - 3) < 1e-9)
        // From the first value fed (t0) to learner 2's last delivery: 99.5 ms + 10 ms.
        #expect(abs(r.duration_s - 0.1095) < 1e-6)
    }

    @Test func logsRoundTripThroughTheirFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-test-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = try ClientLatencyLog(path: dir + "/c.lat", client: 3, incarnation: 77, rate: 500)
        for k in 1...10 { log.record(sequence: UInt64(k), fed: UInt64(k) * 1000, intended: UInt64(k) * 900) }
        log.close()
        let read = try ClientLogFile.read(dir + "/c.lat")
        #expect(read.client == 3 && read.incarnation == 77 && read.rate == 500)
        #expect(read.fed == (1...10).map { UInt64($0) * 1000 })
        #expect(read.intended == (1...10).map { UInt64($0) * 900 })
        #expect(throws: (any Error).self) { try LearnerLogFile.read(dir + "/c.lat") }
    }

    @Test func summaryGathersARunFolder() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bench-summary-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (clients, learners) = logs()
        let report = BenchAnalysis(clients: clients, learners: learners, bucketNs: 100_000_000, label: "closed")
        try FileManager.default.createDirectory(atPath: out + "/closed/report", withIntermediateDirectories: true)
        try writeJSON(report.results, to: out + "/closed/report/results.json")
        try Data(report.latencyCSV().utf8).write(to: URL(fileURLWithPath: out + "/closed/report/latency.csv"))
        try Data(report.throughputCSV().utf8).write(to: URL(fileURLWithPath: out + "/closed/report/throughput.csv"))
        try Data("machine\nsynchronous: full (acceptors and learners)\n".utf8).write(to: URL(fileURLWithPath: out + "/machine.txt"))
        try Data("x\nstopping reason=signal received=120 dropped=0 sent=7 commits=9\n".utf8)
            .write(to: URL(fileURLWithPath: out + "/closed/learner1.err"))
        let md = try Summary.write(out: out)
        #expect(md.contains("| values (delivered by both learners) | 200 |"))
        #expect(md.contains("learner1 120/7, 9"))
        #expect(md.contains(">= 100,000 values/s sustained with durable acceptors"))
        #expect(readJSON(SummaryFile.self, out + "/results.json")?.runs.first?.values == 200)
        try Plot.write(report: out + "/closed/report", to: out + "/p.svg", title: "t")
        let svg = String(decoding: FileManager.default.contents(atPath: out + "/p.svg") ?? Data(), as: UTF8.self)
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 3 + 3 + 3)  // 3 series in each panel
        // No CSVs there: the plot must say so rather than draw nothing.
        #expect(throws: (any Error).self) { try Plot.write(report: out + "/nowhere", to: out + "/q.svg", title: "t") }
    }
}

@Suite struct LimitsTests {
    /// A quorum of three is the second commit to be durable, of two the second, of five the third.
    @Test func aRoundsQuorumTimeIsItsMajoritysLast() {
        #expect(QuorumCommitProbe.quorumTimes([[5, 1, 9], [2, 7, 8], [3, 3, 1]]) == [3, 3, 8])
        #expect(QuorumCommitProbe.quorumTimes([[5, 1], [2, 7]]) == [5, 7])
        #expect(QuorumCommitProbe.quorumTimes([[1], [2], [3], [4], [5]]) == [3])
    }

    @Test func theQuorumProbeCommitsOnItsScheduleAndLeavesNoFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("quorum-probe-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = try QuorumCommitProbe.measure(directory: dir, writers: 3, roundsPerSecond: 200, seconds: 0.05)
        #expect(probe.rounds == 10 && probe.writers == 3)
        #expect(probe.alone_ms_p50 > 0 && probe.quorum_ms_p50 > 0)
        #expect(probe.alone_ms_p50 <= probe.alone_ms_p99 && probe.quorum_ms_p50 <= probe.quorum_ms_p99)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}

@Suite struct ProcessesTests {
    @Test func exitStatusesAndStops() throws {
        let procs = Processes(grace: 2)
        try procs.spawn("client1", stdout: "/dev/null", stderr: nil, ["/bin/sh", "-c", "exit 0"])
        try procs.spawn("acceptor1", stdout: "/dev/null", stderr: nil, ["/bin/sh", "-c", "exit 3"])
        try procs.spawn("learner1", stdout: "/dev/null", stderr: nil, ["sleep", "30"])
        usleep(300_000)
        #expect(procs.isRunning("learner1"))
        procs.stopAll()
        #expect(!procs.isRunning("learner1"))
        let problems = procs.exitProblems()
        #expect(problems == ["acceptor1 exited by itself with status 3", "learner1 exited with status 143 after SIGTERM"])
    }

    /// A command's output goes INTO the named file: run as root with "/dev/null", FileManager's createFile
    /// renamed a plain file over the device. A symbolic link shows the same thing without root: it must
    /// still be a link afterwards, and its target must hold the output.
    @Test func runToEndWritesThroughTheNamedPathNeverReplacesIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-to-end-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let target = dir + "/target", link = dir + "/link"
        try Data("old\n".utf8).write(to: URL(fileURLWithPath: target))
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        #expect(runToEnd(["echo", "new"], output: link) == 0)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == target, "the link was replaced")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new\n")
        #expect(runToEnd(["true"], output: "/dev/null") == 0)
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "/dev/null is still a device")
    }
}

@Suite struct ApiCompareTests {
    /// The api side's figure is read from `paxos-bench api`'s own line; anything else is no figure.
    @Test func readsTheApiLine() {
        #expect(ApiComparison.valuesPerSecond(in: "api: 300000 values from 4096 tasks, 1 per submission, in 2.87 s: 104270 values/s") == 104_270)
        #expect(ApiComparison.valuesPerSecond(in: "api: 10 values from 1 tasks, 1 per submission, in 0.10 s: 99.5 values/s") == 99.5)
        #expect(ApiComparison.valuesPerSecond(in: "api: 300000 values from 1 tasks, one at a time into a withSubmissions stream, in 1.50 s: 200000 values/s") == 200_000)
        #expect(ApiComparison.valuesPerSecond(in: "paxos-bench: error: cannot open") == nil)
        #expect(ApiComparison.valuesPerSecond(in: "") == nil)
    }

    /// The summary's means and ratios are over the rounds given.
    @Test func summaryMeansAndRatio() {
        let rounds = [ApiComparison.Round(process: .init(valuesPerSecond: 200_000, cpuPer100k: 0.4), api: .init(valuesPerSecond: 100_000, cpuPer100k: 1.0)),
                      ApiComparison.Round(process: .init(valuesPerSecond: 300_000, cpuPer100k: 0.4), api: .init(valuesPerSecond: 200_000, cpuPer100k: 0.8))]
        #expect(ApiComparison.summary(rounds)
                == "mean: process 250000 values/s, api 150000 values/s: api/process 60.0%; CPU-s per 100,000 values: process 0.40, api 0.90 (2.25x)")
        #expect(ApiComparison.line(round: 2, rounds[1], n: 10, tasks: 16, batch: 1024)
                == "round 2: process 300000 values/s, 0.40 CPU-s per 100,000; api (16 tasks x 1024) 200000 values/s, 0.80 CPU-s per 100,000")
        #expect(ApiComparison.line(round: 1, rounds[0], n: 10, tasks: 1, batch: 0)
                == "round 1: process 200000 values/s, 0.40 CPU-s per 100,000; api (1 writer x stream) 100000 values/s, 1.00 CPU-s per 100,000")
    }

    @Test func refusesEmptyWork() throws {
        #expect(throws: (any Error).self) { try ApiCompareCommand.parse(["-n", "0"]) }
        let command = try ApiCompareCommand.parse(["-n", "5000", "--tasks", "16", "--batch", "1024", "--rounds", "2", "--bin", "/x"])
        #expect(command.n == 5_000 && command.tasks == 16 && command.batch == 1_024 && command.rounds == 2 && command.bin == "/x")
        #expect(!command.writer)
        #expect(try ApiCompareCommand.parse(["--writer", "--tasks", "1"]).writer)
        #expect(try ApiBenchCommand.parse(["1", "paxos.conf", "--writer"]).writer)
    }
}

@Suite struct RunConfigTests {
    /// `--set` lines reach every run's paxos.conf (they were parsed and then dropped: every A/B comparison made
    /// with --set ran the default configuration).
    @Test func setLinesAreWrittenIntoTheClustersConfig() throws {
        let dir = NSTemporaryDirectory() + "bench-set-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for valueBytes in [nil, 100] {
            var arguments = ["--set", "client-window 1024", "--set", "flow-lead 0"]
            if let valueBytes { arguments += ["--value-bytes", "\(valueBytes)"] }
            let run = BenchRun(options: try RunCommand.parse(arguments), out: dir)
            try run.prepare(dir, perClient: 3, seeds: (1, 2))
            let lines = try String(contentsOfFile: dir + "/paxos.conf", encoding: .utf8).split(separator: "\n")
            #expect(lines.contains("client-window 1024") && lines.contains("flow-lead 0"), "\(lines)")
            #expect(lines.contains("synchronous full"))
        }
    }
}
