import Foundation
import Testing

/// scripts/run.sh, the demo a newcomer runs first, as a newcomer runs it: what it leaves behind when its
/// reader goes away, two demos at once on one machine's loopback, and whether `--kill` kills mid-run.
/// Each run uses its own logs folder (the processes' command lines name it, which is how the test finds any
/// process a run left behind) and the binary under test ($PAXOS_BIN, so run.sh never builds).
@Suite struct RunScriptTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let script = "\(repository)/scripts/run.sh"
    static let canRun = FileManager.default.isExecutableFile(atPath: "/bin/bash")
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid")

    struct Outcome {
        var status: Int32
        var output: String
        var lines: [Substring] { output.split(separator: "\n") }
    }

    /// Runs `bash -c script` in a session of its own (killed as a group if it overruns `timeout`), with
    /// PAXOS_BIN set; returns its exit status and what it printed on standard output and error together.
    static func shell(_ script: String, timeout: Double = 90) throws -> Outcome {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("run-sh-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["bash", "-c", script]
        var environment = ProcessInfo.processInfo.environment
        environment["PAXOS_BIN"] = Paxos.binary
        environment.removeValue(forKey: "PAXOS_LOG_LEVEL")
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let handle = try FileHandle(forWritingTo: out)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(-process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? handle.close()
        return Outcome(status: process.terminationStatus, output: (try? String(contentsOf: out, encoding: .utf8)) ?? "")
    }

    /// A fresh logs folder for one run.
    static func logs(_ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-sh-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Processes (other than this one) whose command line mentions `text`, as "pid: command line".
    static func processes(mentioning text: String) -> [String] {
        let me = getpid()
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { $0 != me }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return line.contains(text) ? "\(pid): \(line)" : nil
        }
    }

    /// The network namespaces run.sh names paxos-run-<its pid>.
    static func runNamespaces() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        return Set(names.filter { $0.hasPrefix("paxos-run-") })
    }

    @Test(.enabled(if: canRun, "needs bash and setsid"))
    func aReaderThatGoesAwayLeavesNothingRunning() throws {
        let dir = try Self.logs("pipe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // `head -1` exits after the first line; run.sh must neither die with its cluster running (SIGPIPE in
        // its cleanup did) nor lose its verdict to the broken pipe: its own status is the run's.
        let run = try Self.shell("""
            set -o pipefail
            '\(Self.script)' -n 200 -s 0.2 --logs '\(dir)' 2>&1 | head -1
            echo "run.sh exited ${PIPESTATUS[0]}"
            """)
        #expect(run.lines.count == 2, "head printed one line, then the status: \(run.output)")
        #expect(run.lines.last == "run.sh exited 0", "the run must pass with its reader gone: \(run.output)")
        usleep(200_000)
        let left = Self.processes(mentioning: dir)
        #expect(left.isEmpty, "processes left running: \(left.joined(separator: "; "))")
        // Its own namespace, named in the line head printed ("..., network namespace paxos-run-<pid>"); other
        // tests' runs may have theirs at this moment.
        if let own = run.lines.first?.split(separator: " ").last.map(String.init), own.hasPrefix("paxos-run-") {
            #expect(!Self.runNamespaces().contains(own), "namespace \(own) left behind")
        }
        let learned = (try? String(contentsOfFile: "\(dir)/learner1.log", encoding: .utf8))?.split(separator: "\n").count
        #expect(learned == 400, "learner 1 learned \(learned ?? 0) of 400 values")
    }

    /// Two demos at once on the host's loopback (two students on one lab machine; as root `--host` keeps run.sh
    /// out of its private namespace): each must pick ports of its own and pass.
    @Test(.enabled(if: canRun, "needs bash and setsid"))
    func twoDemosOnOneLoopbackDoNotCollide() throws {
        let first = try Self.logs("first"), second = try Self.logs("second")
        defer { for dir in [first, second] { try? FileManager.default.removeItem(atPath: dir) } }
        let run = try Self.shell("""
            '\(Self.script)' --host -n 500 -s 0.3 --logs '\(first)' > '\(first)/run.out' 2>&1 & one=$!
            '\(Self.script)' --host -n 500 -s 0.3 --logs '\(second)' > '\(second)/run.out' 2>&1 & two=$!
            wait $one; a=$?; wait $two; b=$?
            echo "first $a second $b"
            """)
        let outputs = [first, second].map { (try? String(contentsOfFile: "\($0)/run.out", encoding: .utf8)) ?? "" }
        #expect(run.lines.last == "first 0 second 0", "both must pass:\n\(outputs.joined(separator: "\n---\n"))")
        let configs = [first, second].map { (try? String(contentsOfFile: "\($0)/paxos.conf", encoding: .utf8)) ?? "" }
        #expect(!configs[0].isEmpty && configs[0] != configs[1], "each run its own ports: \(configs)")
        for output in outputs {
            #expect(output.contains("on the host's loopback: ports"), "run.sh says which ports it took: \(output)")
        }
        #expect(Self.processes(mentioning: first).isEmpty && Self.processes(mentioning: second).isEmpty)
    }

    /// `--kill` must kill acceptor 1, learner 1 and proposer 1 while values still flow, at any -n, and say
    /// how far the learners were at each kill.
    @Test(.enabled(if: canRun, "needs bash and setsid"))
    func killsLandMidRun() throws {
        let dir = try Self.logs("kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Self.shell("'\(Self.script)' --kill -n 1000 -s 0.2 --logs '\(dir)' 2>&1")
        #expect(run.status == 0, "the run must pass: \(run.output)")
        let kills = run.lines.filter { $0.contains("kill -9 ") }
        #expect(kills.count == 3, "three kills reported: \(run.output)")
        for (kill, label) in zip(kills, ["acceptor1", "learner1", "proposer1"]) {
            #expect(kill.contains("kill -9 \(label) "), "kills in order: \(kill)")
            // "... learned so far: learner1 700/2000 learner2 690/2000": at least one learner short of everything.
            let counts = kill.split(separator: " ").compactMap { field -> (Int, Int)? in
                let parts = field.filter { $0.isNumber || $0 == "/" }.split(separator: "/", omittingEmptySubsequences: false)
                guard parts.count == 2, let have = Int(parts[0]), let all = Int(parts[1]) else { return nil }
                return (have, all)
            }
            #expect(counts.count == 2 && counts.contains { $0.0 < $0.1 }, "the kill must land mid-run: \(kill)")
        }
        #expect(run.output.contains("all 2000 values learned by every learner"), "\(run.output)")
        #expect(Self.processes(mentioning: dir).isEmpty)
    }

    @Test func versionNamesTheFormats() throws {
        let run = try Paxos.run([Paxos.binary, "--version"])
        let text = String(decoding: run.stdout, as: UTF8.self)
        #expect(run.status == 0)
        #expect(text.hasPrefix("0.") && text.contains("wire format ") && text.contains("database schema versions: acceptor "),
                "\(text)")
    }
}
