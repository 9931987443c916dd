import ArgumentParser
import Foundation
import Logging
import PaxosCommandLine
import PaxosCore
import PaxosNode
import PaxosStore

/// The benchmark's executable, apart from `paxos` so that the protocol's binary carries no benchmark code.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paxos-bench",
        abstract: "Benchmarks of the paxos cluster: throughput, latency, memory, long history, machine limits.",
        discussion: """
            'run', 'memory' and 'history' start a whole cluster of 'paxos' processes (the binary beside this one, \
            or $PAXOS_BIN); scripts/bench.sh runs them inside a private network namespace.
            """,
        version: PaxosVersion.description,
        subcommands: [RunCommand.self, MemoryCommand.self, HistoryCommand.self,
                      BenchClientCommand.self, BenchLearnerCommand.self, BenchReportCommand.self,
                      SummaryCommand.self, PlotCommand.self,
                      BenchMulticastCommand.self, SQLiteLimitCommand.self, FsyncCommand.self, ApiBenchCommand.self,
                      ApiCompareCommand.self])

    static func main() {
        if let first = CommandLine.arguments.dropFirst().first, first == "client" || first == "learner" {
            StopSignals.shared.install()
        } else if let first = CommandLine.arguments.dropFirst().first, ["run", "memory", "history", "api-compare"].contains(first) {
            ClusterInterruption.shared.install()
        }
        runCommandLine(Self.self, tool: "paxos-bench")
    }
}

let tool = "paxos-bench"

/// `paxos-bench client`: a paxos client fed from standard input at a pace (see BenchClient.swift).
struct BenchClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "A client that records when each value is handed over: closed loop, or open loop with --rate.")
    @OptionGroup var options: RoleOptions

    @Option(help: "Give up (exit status 3) if values are still undecided after this many seconds; 0 waits forever.")
    var timeout: Double = 600

    @Option(help: "Open loop: hand values to the client at this many per second (default: as fast as the client window allows).")
    var rate: Double?

    @Option(help: "Record when each value is handed to the client (binary, see BenchLatencyLog.swift).")
    var latencyLog: String?

    func run() throws {
        try guarded(tool: tool) {
            if let rate, !(rate > 0 && rate.isFinite) { throw StartupError("--rate needs a positive number of values per second") }
            let startup = try options.startup(.client)
            var paced: PacedClientNode?
            defer { paced?.stop() }
            let node = try runClient(startup, timeout: timeout) { node, runtime in
                let log = try latencyLog.map {
                    try ClientLatencyLog(path: $0, client: options.id, incarnation: node.client.incarnation, rate: rate)
                }
                let pacer = PacedClientNode(inner: node, log: log, rate: rate, window: startup.config.settings.clientWindow)
                pacer.start(runtime: runtime)
                paced = pacer
                return pacer
            }
            startup.logger.info("client \(options.id): \(node.client.decidedCount) values decided")
        }
    }
}

/// `paxos-bench learner`: `paxos learner` that also records when each value reached standard output.
struct BenchLearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner", abstract: "A learner that records when each value is written to standard output.")
    @OptionGroup var options: RoleOptions

    @Option(help: "Record when each value is written to standard output (binary, see BenchLatencyLog.swift).")
    var latencyLog: String

    func run() throws {
        try guarded(tool: tool) {
            let startup = try options.startup(.learner)
            let log = try LearnerLatencyLog(path: latencyLog, learner: options.id)
            defer { log.close() }
            try runLearner(startup, output: log.wrap(StandardOutput.print))
        }
    }
}
