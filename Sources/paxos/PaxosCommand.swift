import ArgumentParser
import Foundation
import Logging
import PaxosCore
import PaxosNode
import PaxosStore
import PaxosCommandLine

@main
struct PaxosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paxos",
        abstract: "Durable Paxos atomic broadcast over IP multicast.",
        discussion: """
            Start acceptors, learners, proposers and clients as separate processes with the same config file.
            Learners print only learned values on standard output; logs go to standard error.
            """,
        version: PaxosVersion.description,
        subcommands: [AcceptorCommand.self, ProposerCommand.self, LearnerCommand.self, ClientCommand.self,
                      StatusCommand.self, ResetCommand.self, CheckCommand.self])

    /// Errors are one line on standard error and a non-zero exit; `--help` prints the help.
    static func main() {
        // Before anything else (and before any thread exists, so every thread inherits the blocked mask).
        if let first = CommandLine.arguments.dropFirst().first, Role(rawValue: first) != nil || first == "learn" {
            StopSignals.shared.install()
        }
        runCommandLine(Self.self, tool: "paxos", usageProblem: usageProblem)
    }

    /// What ArgumentParser would report unclearly: no role at all (it prints the help and exits 0), an
    /// unknown role (it reports every argument as unexpected), and a negative id (it takes it for an option
    /// and complains about the config path instead).
    static func usageProblem(_ arguments: [String]) -> String? {
        let names = Set(configuration.subcommands.flatMap { [$0.configuration.commandName ?? ""] + $0.configuration.aliases }
                        + ["help"])
        let roles = Role.allCases.map(\.rawValue)
        let expected = "expected \(roles.dropLast().joined(separator: ", ")) or \(roles.last!) (see 'paxos --help')"
        guard let first = arguments.first else { return "missing role: \(expected)" }
        if !first.hasPrefix("-") && !names.contains(first) {
            return "unknown role '\(first)': \(expected)"
        }
        if roles.contains(first) || first == "learn", arguments.count > 1, arguments[1].hasPrefix("-"),
           arguments[1].dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }), arguments[1].count > 1 {
            return "the id must be a whole number from 1 to \(UInt32.max), not '\(arguments[1])'"
        }
        return nil
    }
}

struct AcceptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "acceptor", abstract: "Run an acceptor.")
    @OptionGroup var options: RoleOptions

    func run() throws {
        try guarded {
            let startup = try options.startup(.acceptor)
            try startup.runProcess(assemble: startup.acceptorNode)
        }
    }
}

struct ProposerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proposer", abstract: "Run a proposer.")
    @OptionGroup var options: RoleOptions

    func run() throws {
        try guarded {
            let startup = try options.startup(.proposer)
            try startup.runProcess(assemble: startup.proposerNode)
        }
    }
}

struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner", abstract: "Run a learner: prints learned values, one per line, on standard output.",
        aliases: ["learn"])
    @OptionGroup var options: RoleOptions

    func run() throws {
        try guarded {
            try runLearner(try options.startup(.learner), output: StandardOutput.print)
        }
    }
}

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Run a client: submits the lines of standard input, exits once all are decided.")
    @OptionGroup var options: RoleOptions

    @Option(help: "Give up (exit status 3) if values are still undecided after this many seconds; 0 waits forever.")
    var timeout: Double = 600

    func run() throws {
        try guarded {
            let startup = try options.startup(.client)
            var feeder: StandardInputFeeder?
            let node = try runClient(startup, timeout: timeout) { node, runtime in
                let reader = StandardInputFeeder(node: node, runtime: runtime, maxValueBytes: startup.config.maxValueBytes)
                Thread.detachNewThread { reader.run() }
                feeder = reader
                return node
            }
            startup.logger.info("client \(options.id): \(node.client.decidedCount) values decided")
            // The lines before it were submitted and are decided; it and what follows were not sent.
            if let refused = feeder?.refused { throw ValueTooLong(line: refused) }
        }
    }
}

/// A client's input held a line over `max-value-bytes` (exit status 1, as other bad input).
struct ValueTooLong: Error, CustomStringConvertible {
    var line: OverLongLine
    var description: String { "\(line)" }
}
