import ArgumentParser
import Foundation
import Logging
import PaxosCore
import PaxosNode
import PaxosStore

// What the `paxos` and `paxos-bench` executables share: the role arguments, the one-line error
// contract, and the readers and writers of standard input and output.

/// Parses and runs `Root`; errors are one line "TOOL: ..." on standard error and a non-zero exit,
/// `--help` prints the help. `usageProblem` reports what ArgumentParser would report unclearly.
public func runCommandLine<Root: ParsableCommand>(_ root: Root.Type, tool: String,
                                                  usageProblem: ([String]) -> String? = { _ in nil }) -> Never {
    if let usage = usageProblem(Array(CommandLine.arguments.dropFirst())) {
        try? FileHandle.standardError.write(contentsOf: Data("\(tool): \(usage)\n".utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }
    do {
        var command = try Root.parseAsRoot()
        try command.run()
        Foundation.exit(0)
    } catch {
        let code = Root.exitCode(for: error)
        if code == .success {
            print(Root.fullMessage(for: error))
            Foundation.exit(0)
        }
        let message = oneLine(Root.message(for: error))
        if !message.isEmpty { try? FileHandle.standardError.write(contentsOf: Data("\(tool): \(message)\n".utf8)) }
        Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
    }
}

/// ArgumentParser's messages may span lines (a list of allowed values, one per line); errors are one line.
public func oneLine(_ message: String) -> String {
    let lines = message.split(whereSeparator: \.isNewline)
        .map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }
    guard let first = lines.first else { return "" }
    let rest = lines.dropFirst().map { $0.hasPrefix("- ") ? String($0.dropFirst(2)) : $0 }
    return rest.isEmpty ? first : first + " " + rest.joined(separator: ", ")
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

public struct RoleOptions: ParsableArguments {
    @Argument(help: "This process's id, from 1.", transform: RoleOptions.parseID)
    public var id: UInt32

    static func parseID(_ text: String) throws -> UInt32 {
        guard let id = UInt32(text), id >= 1 else {
            throw ValidationError("the id must be a whole number from 1 to \(UInt32.max)")
        }
        return id
    }

    @Argument(help: "The cluster configuration file (the course's paxos.conf).")
    public var config: String

    @Option(help: "Folder of the SQLite state files (default: paxos-state/ beside the config file).")
    public var state: String?

    @Option(help: "Log level on standard error.")
    public var logLevel: Logger.Level = .info

    public init() {}

    public func validate() throws {
        guard id >= 1 else { throw ValidationError("the id must be 1 or more") }
    }

    /// Reads the config, finds the state folder and names this process (see ``NodeStartup``).
    public func startup(_ role: Role) throws -> NodeStartup {
        try NodeStartup(role: role, id: id, configPath: config, state: state, logLevel: logLevel)
    }
}

extension ParsableCommand {
    /// Runs a role body, turning failures into one line "TOOL: error: ..." on standard error and a
    /// non-zero exit: 1 for bad input or a failed start, the stop reason's own status for a node that
    /// stopped itself.
    public func guarded(tool: String = "paxos", _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let exit as ExitCode {
            throw exit
        } catch let stopped as NodeStopped {
            try? FileHandle.standardError.write(contentsOf: Data("\(tool): error: \(stopped)\n".utf8))
            throw ExitCode(stopped.reason.exitCode)
        } catch {
            // Failure, StoreError or anything else: one line, whatever the error's text holds (a damaged
            // database's garbage, a config's control characters): every control character becomes a space.
            let text = String(String.UnicodeScalarView("\(error)".unicodeScalars.map {
                $0.properties.generalCategory == .control ? " " : $0
            }))
            try? FileHandle.standardError.write(contentsOf: Data("\(tool): error: \(text)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Learned values go to standard output, a line each, written out after every burst of deliveries.
public struct OutputFailed: Error, CustomStringConvertible {
    public var description: String
}

public enum StandardOutput {
    /// Throws when the bytes could not all be written (a full disk, a reader that went away); the learner
    /// stops on it when it prints before its commit and goes on when the values are committed already.
    public static func print(_ deliveries: [Delivery]) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(deliveries.count * 8)
        for d in deliveries {
            bytes.append(contentsOf: d.submission.value)
            bytes.append(0x0A)
        }
        // Straight to the file descriptor: nothing sits in a buffer when the learner is killed.
        do {
            try OutputRepair.writeAll(fd: STDOUT_FILENO, bytes: bytes)
        } catch {
            throw OutputFailed(description: "cannot write the learned values to standard output: \(error)")
        }
    }
}

/// Reads standard input on its own thread and hands complete lines to the client on the event loop.
/// A line is the bytes before "\n", kept exactly as read.
public final class StandardInputFeeder: @unchecked Sendable {
    let node: ClientNode
    let runtime: NodeRuntime
    /// Reading stops while this many values wait to be decided, so a client fed ten million lines holds
    /// a few windows' worth in memory, not the whole input.
    var maxUndecided: Int { 4 * node.client.settings.clientWindow }

    /// Longest line submitted (`max-value-bytes`); reading stops at the first longer one.
    let maxValueBytes: Int

    public init(node: ClientNode, runtime: NodeRuntime, maxValueBytes: Int = .max) {
        self.node = node
        self.runtime = runtime
        self.maxValueBytes = maxValueBytes
    }

    /// Blocks the reading thread while the client is far ahead of the decisions.
    private func waitWhileFarAhead() {
        while true {
            let undecided = try? runtime.eventLoop.submit { [self] in self.node.client.undecided }.wait()
            guard let undecided, undecided > maxUndecided else { return }
            usleep(2_000)
        }
    }

    /// The first line over `max-value-bytes`, once found: it and what follows it were not submitted.
    public var refused: OverLongLine? { lock.withLock { refusedLine } }
    private var refusedLine: OverLongLine?
    private let lock = NSLock()

    public func run() {
        let input = readLines(fromDescriptor: 0, maxLineBytes: maxValueBytes) { batch in
            runtime.execute { [self] in self.node.submit(batch) }
            waitWhileFarAhead()
        }
        lock.withLock { refusedLine = input.overLong }
        runtime.execute { [self] in
            if !input.last.isEmpty { self.node.submit([input.last]) }
            self.node.closeInput()
        }
    }
}

/// Reads a descriptor to its end, handing over complete lines (the bytes before each "\n", without a
/// "\r" right before it: a file saved with Windows line endings gives the same values) a read's worth
/// at a time; returns what follows the last newline (a last line without one), its "\r" removed too.
public func readLines(fromDescriptor fd: Int32, _ each: ([[UInt8]]) -> Void) -> [UInt8] {
    readLines(fromDescriptor: fd, maxLineBytes: .max, each).last
}

/// What ``readLines(fromDescriptor:maxLineBytes:_:)`` found after the lines it handed over.
public struct LineInput: Equatable, Sendable {
    /// What follows the last newline (a last line without one), its "\r" removed.
    public var last: [UInt8]
    /// The first line longer than the limit (numbered from 1) and its length without "\r\n": reading
    /// stopped there, every line before it was handed over, it and nothing after it.
    public var overLong: OverLongLine?
}

public struct OverLongLine: Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var bytes: Int
    public var limit: Int

    public init(line: Int, bytes: Int, limit: Int) {
        self.line = line
        self.bytes = bytes
        self.limit = limit
    }

    public var description: String { "line \(line) is \(bytes) bytes, over max-value-bytes \(limit)" }
}

/// As ``readLines(fromDescriptor:_:)``, but stops at the first line longer than `maxLineBytes` (without
/// its "\r\n"): the lines before it are handed over, it is measured without being held in memory.
public func readLines(fromDescriptor fd: Int32, maxLineBytes: Int, _ each: ([[UInt8]]) -> Void) -> LineInput {
    var partial: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var lineNumber = 1
    // Bytes of the current line once it is known to be too long (then no longer held), and its last byte.
    var overLength = 0
    var lastByte: UInt8 = 0
    let keep = maxLineBytes == .max ? .max : maxLineBytes + 1  // room for a "\r" that is not part of it
    func overLong() -> OverLongLine {
        OverLongLine(line: lineNumber, bytes: overLength - (lastByte == 0x0D ? 1 : 0), limit: maxLineBytes)
    }
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        var lines: [[UInt8]] = []
        for byte in buffer[0..<n] {
            if byte == 0x0A {
                if overLength > 0 {
                    if !lines.isEmpty { each(lines) }
                    return LineInput(last: [], overLong: overLong())
                }
                if partial.last == 0x0D { partial.removeLast() }
                if partial.count > maxLineBytes {
                    overLength = partial.count
                    lastByte = 0
                    if !lines.isEmpty { each(lines) }
                    return LineInput(last: [], overLong: overLong())
                }
                lines.append(partial)
                partial.removeAll(keepingCapacity: true)
                lineNumber += 1
            } else if overLength > 0 {
                overLength += 1
                lastByte = byte
            } else if partial.count == keep {
                overLength = partial.count + 1
                lastByte = byte
                partial = []
            } else {
                partial.append(byte)
            }
        }
        if !lines.isEmpty { each(lines) }
    }
    if overLength > 0 { return LineInput(last: [], overLong: overLong()) }
    if partial.last == 0x0D { partial.removeLast() }
    if partial.count > maxLineBytes {
        overLength = partial.count
        lastByte = 0
        return LineInput(last: [], overLong: overLong())
    }
    return LineInput(last: partial, overLong: nil)
}

/// Runs a learner until it stops, printing through `output`: `paxos learner` and `paxos-bench learner`
/// (which also times each print) differ only there.
public func runLearner(_ startup: NodeStartup, output: @escaping ([Delivery]) throws -> Void) throws {
    try startup.runProcess { runtime, path in
        try startup.learnerNode(runtime: runtime, path: path, loaded: { store, state in
            // Before anything is printed: complete this learner's own output, record a new (empty) one, or
            // stop with one line on a file it did not write (Unrecognised), leaving it as it is.
            let repaired = try OutputRepair.repairing(fd: STDOUT_FILENO, store: store, nextPosition: state.nextPosition)
            if repaired.outcome != .untouched { startup.logger.notice("learner \(startup.id) standard output: \(repaired.outcome)") }
            // Into a regular file the learner prints a value once a quorum of acceptors holds it durably, before
            // its own commit (the next start reads back what it printed past its database); into a pipe or a
            // terminal, which it cannot read back, only after its commit.
            return LearnerPrinting(printsFirst: repaired.outcome != .untouched, printedAhead: repaired.printedAhead)
        }, output: output)
    }
}

/// Runs a client until it stops, shared by `paxos client` and `paxos-bench client` (which feeds it at a
/// pace): `feed` gets the client's node and runtime before it runs, starts feeding it and returns the node to
/// run (the client's, or one wrapping it). The client stops with `.timedOut` once `timeout` seconds pass (0:
/// never). Returns the client's node once it finished.
public func runClient(_ startup: NodeStartup, timeout: Double,
                      feed: (ClientNode, NodeRuntime) throws -> any Node) throws -> ClientNode {
    var client: ClientNode?
    try startup.runProcess { runtime, _ in
        let node = startup.clientNode(runtime: runtime)
        let ticksAllowed = timeout > 0 ? UInt64(timeout * 1000 / Double(startup.config.tickMilliseconds)) : .max
        runtime.onTick = { tick in if tick >= ticksAllowed { runtime.stop(.timedOut) } }
        client = node
        return AssembledNode(node: try feed(node, runtime))
    }
    return client!
}
