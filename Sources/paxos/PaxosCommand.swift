import ArgumentParser
import Foundation
import Logging
import PaxosCore
import PaxosNode
import PaxosStore

@main
struct PaxosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paxos",
        abstract: "Durable Paxos atomic broadcast over IP multicast.",
        discussion: """
            Start acceptors, learners, proposers and clients as separate processes with the same config file.
            Learners print only learned values on standard output; logs go to standard error.
            """,
        subcommands: [AcceptorCommand.self, ProposerCommand.self, LearnerCommand.self, ClientCommand.self,
                      StatusCommand.self, ResetCommand.self, CheckCommand.self, BenchReportCommand.self,
                      BenchMulticastCommand.self])

    /// Errors are one line on standard error and a non-zero exit; `--help` prints the help.
    static func main() {
        // Before anything else (and before any thread exists, so every thread inherits the blocked mask).
        if let first = CommandLine.arguments.dropFirst().first, Role(rawValue: first) != nil || first == "learn" {
            StopSignals.shared.install()
        }
        if let usage = usageProblem(Array(CommandLine.arguments.dropFirst())) {
            FileHandle.standardError.write(Data("paxos: \(usage)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let message = oneLine(self.message(for: error))
            if !message.isEmpty { FileHandle.standardError.write(Data("paxos: \(message)\n".utf8)) }
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
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

/// ArgumentParser's messages may span lines (a list of allowed values, one per line); errors are one line.
func oneLine(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
    guard let first = lines.first else { return "" }
    let rest = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    return rest.isEmpty ? first : first + " " + rest.joined(separator: ", ")
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

struct RoleOptions: ParsableArguments {
    @Argument(help: "This process's id, from 1.", transform: RoleOptions.parseID)
    var id: UInt32

    static func parseID(_ text: String) throws -> UInt32 {
        guard let id = UInt32(text), id >= 1 else {
            throw ValidationError("the id must be a whole number from 1 to \(UInt32.max)")
        }
        return id
    }

    @Argument(help: "The cluster configuration file (the course's paxos.conf).")
    var config: String

    @Option(help: "Folder of the SQLite state files (default: paxos-state/ beside the config file).")
    var state: String?

    @Option(help: "Log level on standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard id >= 1 else { throw ValidationError("the id must be 1 or more") }
    }
}

extension RoleOptions {
    /// Reads the config, finds the state folder and names this process (see ``NodeStartup``).
    func startup(_ role: Role) throws -> NodeStartup {
        try NodeStartup(role: role, id: id, configPath: config, state: state, logLevel: logLevel)
    }
}

extension ParsableCommand {
    /// Runs a role body, turning failures into one line on standard error and a non-zero exit: 1 for
    /// bad input or a failed start, the stop reason's own status for a node that stopped itself.
    func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch let stopped as NodeStopped {
            FileHandle.standardError.write(Data("paxos: error: \(stopped)\n".utf8))
            throw ExitCode(stopped.reason.exitCode)
        } catch {
            // Failure, StoreError or anything else: one line, whatever the error's text holds (a damaged
            // database's garbage, a config's control characters): every control character becomes a space.
            let text = String(String.UnicodeScalarView("\(error)".unicodeScalars.map {
                $0.properties.generalCategory == .control ? " " : $0
            }))
            FileHandle.standardError.write(Data("paxos: error: \(text)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct AcceptorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "acceptor", abstract: "Run an acceptor.")
    @OptionGroup var options: RoleOptions

    func run() throws {
        try guarded {
            let startup = try options.startup(.acceptor)
            let loading = ContinuousClock.now
            let store = try AcceptorStore(path: try startup.lockState(), synchronous: startup.config.synchronous)
            defer { store.close() }
            let state = try store.load()
            let acceptor = Paxos.Acceptor(id: options.id, settings: startup.config.settings, restoring: state,
                                          seed: UInt64.random(in: .min ... .max))
            startup.logger.info("acceptor \(options.id) starts", metadata: [
                "promised": "\(state.promised)", "accepted": "\(state.accepted.count)",
                "trimmedThrough": "\(state.trimmedThrough)", "state": "\(store.path)",
                "loadedIn": "\(ContinuousClock.now - loading)"])
            if acceptor.isRecovering {
                startup.logger.notice("acceptor \(options.id) starts without state: it takes no part until it knows from the other acceptors whether the cluster has history (and if so, has recovered it)")
            }
            let runtime = startup.makeRuntime()
            try startup.run(AcceptorNode(acceptor: acceptor, store: store, outbox: runtime.outbox,
                                         admission: startup.admission, notify: startup.notify), runtime: runtime)
        }
    }
}

struct ProposerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "proposer", abstract: "Run a proposer.")
    @OptionGroup var options: RoleOptions

    func run() throws {
        try guarded {
            let startup = try options.startup(.proposer)
            let store = try ProposerStore(path: try startup.lockState(), synchronous: .full)
            defer { store.close() }
            let state = try store.load()
            startup.logger.info("proposer \(options.id) starts", metadata: ["highestRound": "\(state.highestRound)"])
            let runtime = startup.makeRuntime()
            let proposer = Paxos.Proposer(id: options.id, settings: startup.config.settings, restoring: state,
                                          seed: UInt64.random(in: .min ... .max), incarnation: startup.me.incarnation)
            let node = ProposerNode(proposer: proposer, store: store, outbox: runtime.outbox,
                                    admission: startup.admission, notify: startup.notify)
            let logger = startup.logger
            node.onModeChange = { mode, ballot in
                switch mode {
                case .candidate: logger.notice("proposer \(options.id) starts an election with ballot \(ballot)")
                case .leader: logger.notice("proposer \(options.id) leads with ballot \(ballot)")
                case .follower: logger.notice("proposer \(options.id) stands by: a higher ballot is about")
                }
            }
            try startup.run(node, runtime: runtime)
        }
    }
}

struct LearnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learner", abstract: "Run a learner: prints learned values, one per line, on standard output.",
        aliases: ["learn"])
    @OptionGroup var options: RoleOptions

    @Option(help: "Benchmark: record when each value is written to standard output (binary, see BenchLatencyLog.swift).")
    var latencyLog: String?

    func run() throws {
        try guarded {
            let startup = try options.startup(.learner)
            let store = try LearnerStore(path: try startup.lockState(), synchronous: startup.config.synchronous)
            defer { store.close() }
            let state = try store.load()
            startup.logger.info("learner \(options.id) starts", metadata: [
                "nextInstance": "\(state.nextInstance)", "nextPosition": "\(state.nextPosition)", "state": "\(store.path)"])
            // Before anything is printed: complete this learner's own output, record a new (empty) one, or
            // stop with one line on a file it did not write (Unrecognised), leaving it as it is.
            let outcome = try OutputRepair.repair(fd: STDOUT_FILENO, store: store, nextPosition: state.nextPosition)
            if outcome != .untouched { startup.logger.notice("learner \(options.id) standard output: \(outcome)") }
            let runtime = startup.makeRuntime()
            let learner = Paxos.Learner(id: options.id, settings: startup.config.settings, restoring: state)
            let log = try latencyLog.map { try LearnerLatencyLog(path: $0, learner: options.id) }
            defer { log?.close() }
            let output = log.map { $0.wrap(StandardOutput.print) } ?? StandardOutput.print
            let node = LearnerNode(learner: learner, store: store, outbox: runtime.outbox, output: output,
                                   admission: startup.admission, notify: startup.notify)
            try startup.run(node, runtime: runtime)
        }
    }
}

/// Learned values go to standard output, a line each, written out after every burst of deliveries.
enum StandardOutput {
    static func print(_ deliveries: [Delivery]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(deliveries.count * 8)
        for d in deliveries {
            bytes.append(contentsOf: d.submission.value)
            bytes.append(0x0A)
        }
        // Straight to the file descriptor: nothing sits in a buffer when the learner is killed. If standard
        // output is closed the values are in the learn database all the same.
        try? OutputRepair.writeAll(fd: STDOUT_FILENO, bytes: bytes)
    }
}

struct ClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client", abstract: "Run a client: submits the lines of standard input, exits once all are decided.")
    @OptionGroup var options: RoleOptions

    @Option(help: "Give up (exit 1) if values are still undecided after this many seconds; 0 waits forever.")
    var timeout: Double = 600

    @Option(help: "Open loop: hand values to the client at this many per second (default: as fast as the client window allows).")
    var rate: Double?

    @Option(help: "Benchmark: record when each value is handed to the client (binary, see BenchLatencyLog.swift).")
    var latencyLog: String?

    func run() throws {
        try guarded {
            let startup = try options.startup(.client)
            _ = try startup.lockState()  // its lock and status file
            let runtime = startup.makeRuntime()
            let client = Paxos.Client(id: options.id, incarnation: UInt64.random(in: .min ... .max),
                                      settings: startup.config.settings)
            let node = ClientNode(client: client, outbox: runtime.outbox, admission: startup.admission, notify: startup.notify)
            let ticksAllowed = timeout > 0 ? UInt64(timeout * 1000 / Double(startup.config.tickMilliseconds)) : .max
            runtime.onTick = { tick in if tick >= ticksAllowed { runtime.stop(.timedOut) } }
            if rate != nil || latencyLog != nil {
                try runPaced(startup: startup, runtime: runtime, node: node)
                startup.logger.info("client \(options.id): \(node.client.decidedCount) values decided")
                return
            }
            let feeder = StandardInputFeeder(node: node, runtime: runtime)
            Thread.detachNewThread { feeder.run() }
            try startup.run(node, runtime: runtime)
            startup.logger.info("client \(options.id): \(node.client.decidedCount) values decided")
        }
    }
}

/// Reads standard input on its own thread and hands complete lines to the client on the event loop.
/// A line is the bytes before "\n", kept exactly as read.
final class StandardInputFeeder: @unchecked Sendable {
    let node: ClientNode
    let runtime: NodeRuntime
    /// Reading stops while this many values wait to be decided, so a client fed ten million lines holds
    /// a few windows' worth in memory, not the whole input.
    var maxUndecided: Int { 4 * node.client.settings.clientWindow }

    init(node: ClientNode, runtime: NodeRuntime) {
        self.node = node
        self.runtime = runtime
    }

    /// Blocks the reading thread while the client is far ahead of the decisions.
    private func waitWhileFarAhead() {
        while true {
            let undecided = try? runtime.eventLoop.submit { [self] in self.node.client.undecided }.wait()
            guard let undecided, undecided > maxUndecided else { return }
            usleep(2_000)
        }
    }

    func run() {
        let last = readLines(fromDescriptor: 0) { batch in
            runtime.execute { [self] in self.node.submit(batch) }
            waitWhileFarAhead()
        }
        runtime.execute { [self] in
            if !last.isEmpty { self.node.submit([last]) }
            self.node.closeInput()
        }
    }
}

/// Reads a descriptor to its end, handing over complete lines (the bytes before each "\n", exactly as
/// read) a read's worth at a time; returns what follows the last newline (a last line without one).
func readLines(fromDescriptor fd: Int32, _ each: ([[UInt8]]) -> Void) -> [UInt8] {
    var partial: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        var lines: [[UInt8]] = []
        for byte in buffer[0..<n] {
            if byte == 0x0A {
                lines.append(partial)
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
            }
        }
        if !lines.isEmpty { each(lines) }
    }
    return partial
}
