import Foundation
import Testing

/// Running the built `paxos` executable and checking how it refuses bad input: exit status non-zero,
/// exactly one line on standard error starting "paxos: " (no control characters) that says what is wrong,
/// nothing on standard output, and no data touched (the folder's names, types, modes and bytes, *.lock files
/// aside: a refused start may leave its empty lock file).
enum Paxos {
    /// $PAXOS_BIN, else the `paxos` built beside this test bundle (`swift test` builds every product).
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["PAXOS_BIN"], !path.isEmpty { return path }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: me).deletingLastPathComponent()
        // macOS: .build/debug/paxosPackageTests.xctest/Contents/MacOS/paxosPackageTests
        while dir.pathComponents.count > 1, dir.lastPathComponent.hasSuffix(".xctest") || ["Contents", "MacOS"].contains(dir.lastPathComponent) {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("paxos").path
    }()

    struct Run {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Runs `command` (the first element is the executable's path) with standard input from /dev/null,
    /// killing it after `timeout` seconds.
    static func run(_ command: [String], environment: [String: String]? = nil, stdin: String = "/dev/null",
                    timeout: Double = 10) throws -> Run {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("stdout"), err = scratch.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if let environment { process.environment = environment }
        process.standardInput = FileHandle(forReadingAtPath: stdin)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: try Data(contentsOf: out), stderr: try Data(contentsOf: err),
                   timedOut: timedOut)
    }
}

/// A fresh temporary folder (mode 755: the "unreadable config" case runs as nobody, who must reach it).
final class Scratch: @unchecked Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o755])
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func folder(_ name: String) throws -> String {
        let p = path + "/" + name
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    func write(_ name: String, _ bytes: some Sequence<UInt8>) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
    }

    /// Names, types, modes and bytes of everything under `dir` but *.lock files; "absent" if none.
    static func snapshot(_ dir: String) throws -> [String] {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dir) else { return ["absent"] }
        var out: [String] = []
        for name in (fm.subpaths(atPath: dir) ?? []).sorted() where !name.hasSuffix(".lock") {
            let attributes = try fm.attributesOfItem(atPath: dir + "/" + name)
            let bytes = attributes[.type] as? FileAttributeType == .typeRegular
                ? (fm.contents(atPath: dir + "/" + name).map { $0.base64EncodedString() } ?? "unreadable") : ""
            out.append("\(name) \(attributes[.type] ?? "") \(attributes[.posixPermissions] ?? "") \(bytes)")
        }
        return out
    }
}

/// Runs `command` and checks it refuses with one line matching `phrase` (a case-insensitive regex), the
/// exit status `status` (any non-zero one if nil), and `dir` unchanged.
func expectRefusal(_ command: [String], phrase: String, status: Int32? = nil, untouched dir: String,
                   environment: [String: String]? = nil, stdin: String = "/dev/null",
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    let before = try Scratch.snapshot(dir)
    let run = try Paxos.run(command, environment: environment, stdin: stdin)
    let after = try Scratch.snapshot(dir)
    let stderr = String(decoding: run.stderr, as: UTF8.self)
    #expect(!run.timedOut, "still running after 10 s: it did not refuse", sourceLocation: sourceLocation)
    #expect(run.status != 0, "exit status 0 (stderr: \(stderr))", sourceLocation: sourceLocation)
    if let status { #expect(run.status == status, "stderr: \(stderr)", sourceLocation: sourceLocation) }
    #expect(run.stdout.isEmpty, "standard output: \(String(decoding: run.stdout, as: UTF8.self))", sourceLocation: sourceLocation)
    #expect(stderr.hasSuffix("\n") && stderr.filter { $0 == "\n" }.count == 1,
            "standard error is not exactly one line: \(stderr)", sourceLocation: sourceLocation)
    let line = String(stderr.dropLast())
    #expect(line.hasPrefix("paxos: "), "error line: \(line)", sourceLocation: sourceLocation)
    #expect(!line.unicodeScalars.contains { $0.properties.generalCategory == .control },
            "control characters in: \(line.debugDescription)", sourceLocation: sourceLocation)
    let regex = try Regex(phrase).ignoresCase()
    #expect(line.contains(regex), "error line does not match /\(phrase)/: \(line)", sourceLocation: sourceLocation)
    #expect(before == after, "files changed under \(dir)", sourceLocation: sourceLocation)
}
