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
                      StatusCommand.self, BenchReportCommand.self, BenchMulticastCommand.self])

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

/// SIGTERM and SIGINT for the roles, from the first instruction of `main`: both are blocked in every
/// thread and a thread takes them with sigwait, so none is ever lost or kills the process while it
/// starts. Until the runtime is registered a signal is remembered; registering then stops the runtime at
/// once (it opens and closes its sockets and ends with exit status 0). Without this, a signal between
/// the process's start and the runtime's own handlers killed it (status 143), or, in the instant the
/// runtime ignored the signal before its dispatch source was up, was lost and left it running.
final class StopSignals: @unchecked Sendable {
    static let shared = StopSignals()
    private let lock = NSLock()
    private var runtime: NodeRuntime?
    private var pending: Int32?
    private var installed = false

    func install() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        Thread.detachNewThread { [self] in
            var signals = blocked
            while true {
                var sig: Int32 = 0
                guard sigwait(&signals, &sig) == 0 else { continue }
                self.received(sig)
            }
        }
    }

    private func received(_ sig: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if let runtime {
            runtime.stop(.signal(sig))
        } else if pending == nil {
            pending = sig
        }
    }

    /// The runtime about to run; a signal already received stops it straight away.
    func register(_ runtime: NodeRuntime) {
        lock.lock()
        defer { lock.unlock() }
        self.runtime = runtime
        if let pending { runtime.stop(.signal(pending)) }
    }
}

/// A failure that ends the process with one line on standard error.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// What every role does before it starts: read the config, find the state folder, lock the state file.
struct Startup {
    let options: RoleOptions
    let role: Role
    let config: ClusterConfig
    let stateDirectory: String
    let logger: Logger
    /// This process on the wire: its role, id, a random incarnation and its start time.
    let me: Sender

    init(_ options: RoleOptions, role: Role) throws {
        self.options = options
        self.role = role
        let path = options.config
        let data = try Self.readConfig(path)
        guard let text = String(data: data, encoding: .utf8) else {
            throw Failure("\(path): not a text file")
        }
        do {
            config = try ClusterConfig.parse(text)
        } catch {
            throw Failure("\(path): \(error)")
        }
        if let key = ProcessInfo.processInfo.environment["PAXOS_KEY"], !key.isEmpty, key.utf8.count < 16 {
            throw Failure("PAXOS_KEY must be at least 16 characters")
        }
        if role == .acceptor && Int(options.id) > config.settings.acceptorCount {
            throw Failure("acceptor id \(options.id) is beyond acceptor-count \(config.settings.acceptorCount) in \(path)")
        }
        let configFolder = (path as NSString).deletingLastPathComponent
        let base = configFolder.isEmpty ? "." : configFolder
        if let state = options.state {
            stateDirectory = state
        } else if let dir = config.stateDirectory {
            stateDirectory = dir.hasPrefix("/") ? dir : base + "/" + dir
        } else {
            stateDirectory = base + "/paxos-state"
        }
        var logger = Logger(label: "paxos.\(role.rawValue).\(options.id)") { label in
            StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = options.logLevel
        self.logger = logger
        me = Sender(role: role, id: options.id, incarnation: UInt32.random(in: 1 ... .max),
                    startedAt: UInt64(max(Date().timeIntervalSince1970 * 1000, 0)))
    }

    var header: Wire.Header { Wire.Header(fingerprint: config.settings.fingerprint, sender: me) }
    var admission: Paxos.Admission { Paxos.Admission(me: me, fingerprint: config.settings.fingerprint) }

    /// Logs what a node reports: mismatched clusters and twins at warning level, recovery at notice.
    var notify: @Sendable (NodeNotice) -> Void {
        let logger = logger
        let me = me
        return { notice in
            switch notice {
            case .foreignCluster(let sender, let theirs, let ours):
                logger.warning("dropping datagrams from \(sender.role) \(sender.id): it runs with \(theirs), this \(me.role) with \(ours); every process of a cluster needs the same acceptor-count and learner-count")
            case .olderTwin(let twin):
                logger.warning("heard \(twin.role) \(twin.id) from another, older process (incarnation \(twin.incarnation)); if it still runs it stops now: two processes must never share one id")
            case .displaced(let newer):
                logger.error("another process started as \(newer.role) \(newer.id) (incarnation \(newer.incarnation)); this one stops")
            case .acceptor(.startedFresh(let blank)):
                logger.notice("acceptor \(me.id): acceptors \(blank.map(String.init).joined(separator: ", ")) are all without state and nothing has been decided: a new cluster, voting")
            case .acceptor(.raisingBarrier(let barrier, let promisedBy)):
                logger.notice("acceptor \(me.id) recovering: acceptors \(promisedBy.map(String.init).joined(separator: ", ")) answered; asking them to promise \(barrier) and send their state")
            case .acceptor(.recovered(let from, let promised, let entries, let trimmed)):
                logger.notice("acceptor \(me.id) recovered from acceptors \(from.map(String.init).joined(separator: ", ")): promised \(promised), \(entries) accepted values, trimmed through \(trimmed); voting again")
            }
        }
    }

    /// The config file's bytes; failures name the file and the system's reason (missing, a directory,
    /// permission denied...).
    static func readConfig(_ path: String) throws -> Data {
        func failure() -> Failure { Failure("cannot read config file '\(path)': \(String(cString: strerror(errno)))") }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure() }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure() }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let what = info.st_mode & S_IFMT == S_IFDIR ? "it is a directory" : "it is not a regular file"
            throw Failure("cannot read config file '\(path)': \(what)")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw failure() }
            if n == 0 { return data }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    var synchronous: Synchronous {
        switch config.synchronous {
        case .full: .full
        case .normal: .normal
        case .off: .off
        }
    }

    /// Creates the state folder if needed, and takes an exclusive lock so two processes never share one
    /// role's state (the lock dies with the process, kill -9 included).
    func prepareState() throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        } catch {
            throw Failure("cannot create state folder '\(stateDirectory)': \(error.localizedDescription)")
        }
        guard access(stateDirectory, W_OK) == 0 else {
            throw Failure("state folder '\(stateDirectory)' is not writable")
        }
        let name = "\(role.rawValue)-\(options.id)"
        let lockPath = "\(stateDirectory)/\(name).lock"
        let fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot open lock file '\(lockPath)': \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw Failure("\(role.rawValue) \(options.id) is already running with state in '\(stateDirectory)'")
        }
        return "\(stateDirectory)/\(name).sqlite"
    }

    /// The shared key: PAXOS_KEY from the environment, else the config's `key` line, else none.
    var authenticator: DatagramAuthenticator? {
        let key = ProcessInfo.processInfo.environment["PAXOS_KEY"].flatMap { $0.isEmpty ? nil : $0 } ?? config.key
        return key.map { DatagramAuthenticator(secret: $0.utf8) }
    }

    func makeRuntime() -> NodeRuntime {
        NodeRuntime(config: config, logger: logger, header: header, authenticator: authenticator)
    }

    func run(_ node: any Node, runtime: NodeRuntime) throws {
        StopSignals.shared.register(runtime)
        reportStatus(of: runtime)
        let reason: StopReason
        do {
            reason = try runtime.run(node, role: role)
        } catch {
            throw Failure("cannot open multicast sockets: \(error)")
        }
        let c = node.counters
        logger.info("stopping", metadata: ["reason": "\(reason)", "received": "\(c.received)", "dropped": "\(c.dropped)",
                                           "foreign": "\(c.foreign)", "twin": "\(c.twin)",
                                           "rejected": "\(runtime.rejected)", "sendErrors": "\(runtime.sendErrors)",
                                           "sent": "\(c.sent)", "commits": "\(c.commits)"])
        switch reason {
        case .signal, .finished: return
        case .timedOut: throw Failure("client \(options.id): timed out before all values were decided")
        case .failed(let why): throw Failure(why)
        }
    }
}

extension ParsableCommand {
    /// Runs a role body, turning failures into one line on standard error and exit status 1.
    func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
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
            let startup = try Startup(options, role: .acceptor)
            let loading = ContinuousClock.now
            let store = try AcceptorStore(path: try startup.prepareState(), synchronous: startup.synchronous)
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
            let startup = try Startup(options, role: .proposer)
            let store = try ProposerStore(path: try startup.prepareState(), synchronous: .full)
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
            let startup = try Startup(options, role: .learner)
            let store = try LearnerStore(path: try startup.prepareState(), synchronous: startup.synchronous)
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
            let startup = try Startup(options, role: .client)
            _ = try startup.prepareState()  // its lock and status file
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
