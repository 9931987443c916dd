import Foundation
import PaxosCheck
import Testing

/// The course's classic scenarios, run the way the course's own scripts run them (``CourseFolder``: the launchers
/// copied into a tests folder, `./acceptor.sh 1 /abs/paxos.conf` from inside it, SIGTERM a fixed window after the
/// clients' start): the timeline is acceptors, 1 s, learners, 1 s, proposers, the clients `clientDelay` later
/// (the course's run.sh waits 10 s, which changes nothing but the wait), then `window` seconds until SIGTERM.
///
///   plain       3 acceptors, 2 proposers, 2 learners, 2 clients: everything learned
///   loss        the same with 10% of the datagrams to the group dropped (the course's run_loss.sh)
///   lossload    10% loss with 100,000 values per client (at least), 10 s: flow control and the fast
///               retransmission of lost 2As and submissions under load
///   catchup     learner 2 starts 1 s after client 1 and 1 s before client 2; it must print the whole
///               sequence, identical to learner 1 (run_catch_up.sh)
///   2acceptors  only acceptors 1 and 2 started: everything learned
///   1acceptor   only acceptor 1 started: no majority of three, so nothing may be learned
///   kill        acceptor 1 killed with -9 0.2 s after the clients start and restarted 1 s later with the same
///               id and state: everything learned
///   wipe        acceptor 1 killed with -9 mid-run (150,000 values per client at least), its database deleted,
///               restarted: it must log that it recovers and has recovered, and everything is learned exactly
///               once, identically (30 s)
///   bigvalue    six values of 200 KB to 1 MiB per client (many datagrams each), acceptor 1 killed with -9
///               and restarted as in `kill`, learner 2 started late as in `catchup` (it catches up on the
///               big values in answers cut short at `ProtocolSettings.catchUpBytes`): everything learned whole, exactly
///               once, identically
///   misconfig   acceptor-count 5 for acceptors 1-2 and learner 2, acceptor-count 3 for proposer 1, learner 1
///               and the client: nothing may be learned, `paxos status` must count the foreign datagrams and
///               the acceptors' logs must name both settings
///
/// Each scenario must learn everything within its window; then the course's checks (`OutputCheck`, as `paxos
/// check`: identical outputs, learned = proposed exactly once, learner databases = outputs), and every process
/// must have obeyed SIGTERM with exit status 0 (a client exits 0 by itself once all its values are decided).
/// One line per scenario on standard output, `PASS name (learned X/Y in Zs)`, `SKIP name: why` or `FAIL name:
/// reasons` followed by where its files were kept and the check's lines.
///
/// Runs only when asked (`scripts/integration-test.sh`, which `scripts/test.sh` runs after `swift test`): its
/// windows are the course's, and the simulator's threads beside it would make them a test of the machine's load.
/// Environment: PAXOS_COURSE_SCENARIOS=1 (run), PAXOS_COURSE_VALUES (values per client, 1000),
/// PAXOS_COURSE_ONLY (comma-separated names), PAXOS_COURSE_CLIENT_DELAY (seconds, 1), PAXOS_COURSE_WINDOW
/// (whole seconds, 5), PAXOS_COURSE_KEEP=1 (keep every scenario's folder; a failed one's is always kept).
@Suite(.serialized) struct CourseScenarioTests {
    enum Scenario: String, CaseIterable, Sendable {
        case plain, loss, lossload, catchup
        case twoAcceptors = "2acceptors", oneAcceptor = "1acceptor"
        case kill, wipe, bigvalue, misconfig
    }

    struct Settings {
        var n = 1000
        var only: [Scenario]?
        var clientDelay = 1.0
        var window = 5
        var keep = false
        static let requested = ProcessInfo.processInfo.environment["PAXOS_COURSE_SCENARIOS"] == "1"

        static func fromEnvironment() throws -> Settings {
            let env = ProcessInfo.processInfo.environment
            var s = Settings()
            if let text = env["PAXOS_COURSE_VALUES"] {
                s.n = try #require(Int(text).flatMap { $0 > 0 ? $0 : nil }, "PAXOS_COURSE_VALUES needs a positive integer, not '\(text)'")
            }
            if let text = env["PAXOS_COURSE_ONLY"], !text.isEmpty {
                s.only = try text.split(separator: ",").map { name in
                    try #require(Scenario(rawValue: String(name)),
                                 "unknown scenario '\(name)' (known: \(Scenario.allCases.map(\.rawValue).joined(separator: " ")))")
                }
            }
            if let text = env["PAXOS_COURSE_CLIENT_DELAY"] {
                s.clientDelay = try #require(Double(text).flatMap { $0 >= 0 ? $0 : nil }, "PAXOS_COURSE_CLIENT_DELAY needs seconds, not '\(text)'")
            }
            if let text = env["PAXOS_COURSE_WINDOW"] {
                s.window = try #require(Int(text).flatMap { $0 > 0 ? $0 : nil }, "PAXOS_COURSE_WINDOW needs whole seconds, not '\(text)'")
            }
            s.keep = env["PAXOS_COURSE_KEEP"] == "1"
            return s
        }
    }

    /// What a scenario does beyond the plain run.
    struct Plan {
        var acceptors = 3
        var loss = 0.0
        var lateLearner: Int?
        var expectEmpty = false
        var crashAcceptor = false
        var wipe = false
        var bigValues = false
        var n: Int
        var window: Int
        var killAfterMs = 200
        var restartAfterMs = 1000

        init(_ scenario: Scenario, _ settings: Settings) {
            n = settings.n
            window = settings.window
            switch scenario {
            case .plain, .misconfig: break
            case .loss: loss = 0.1
            case .lossload: loss = 0.1; n = max(n, 100_000); window = 10
            case .catchup: lateLearner = 2
            case .twoAcceptors: acceptors = 2
            case .oneAcceptor: acceptors = 1; expectEmpty = true
            case .kill: crashAcceptor = true
            case .wipe:
                crashAcceptor = true; wipe = true; n = max(n, 150_000); window = 30
                killAfterMs = 300; restartAfterMs = 300
            case .bigvalue: crashAcceptor = true; bigValues = true; n = 6; lateLearner = 2
            }
        }
    }

    @Test func settingsParse() throws {
        _ = try Settings.fromEnvironment()
    }

    @Test(.enabled(if: Settings.requested, "run by scripts/integration-test.sh (PAXOS_COURSE_SCENARIOS=1)"),
          .timeLimit(.minutes(3)), arguments: Scenario.allCases)
    func scenario(_ scenario: Scenario) throws {
        let settings = try Settings.fromEnvironment()
        if let only = settings.only, !only.contains(scenario) { return }
        let plan = Plan(scenario, settings)
        if plan.loss > 0 && !CourseFolder.canUseNamespace {
            print("SKIP \(scenario.rawValue): packet loss needs root (a private network namespace with an iptables rule)")
            return
        }
        if plan.loss > 0 && CourseFolder.iptables == nil {
            print("SKIP \(scenario.rawValue): iptables is not installed (apt-get install -y iptables)")
            return
        }
        let folder = try CourseFolder(scenario: scenario.rawValue, loss: plan.loss)
        var kept = true
        defer {
            let leftovers = folder.tearDown()
            #expect(leftovers.isEmpty, "tearing down: \(leftovers.joined(separator: "; "))")
            if !kept { folder.remove() }
        }
        let (problems, success, details) = scenario == .misconfig
            ? try Self.misconfig(folder, settings) : try Self.run(plan, folder, settings)
        if problems.isEmpty {
            print("PASS \(scenario.rawValue) (\(success))")
            if settings.keep { print("     kept: \(folder.dir)") } else { kept = false }
        } else {
            print("FAIL \(scenario.rawValue): \(problems.joined(separator: "; "))")
            print("     kept: \(folder.dir) (learn1, learn2, prop1, *.err, paxos-state/)")
            for line in details { print("     | \(line)") }
        }
        #expect(problems.isEmpty, "\(scenario.rawValue): \(problems.joined(separator: "; ")) — files in \(folder.dir)")
    }

    static func nowMs() -> Int { LearnerWait.nowMs() }
    static func seconds(_ ms: Int) -> String { "\(ms / 1000).\(ms % 1000 / 100)" }
    static func sleep(until ms: Int) { let d = ms - nowMs(); if d > 0 { Thread.sleep(forTimeInterval: Double(d) / 1000) } }

    /// N random integers 0..32767 (the course's range), one a line; or N lines of random base64 text, each
    /// 200,000 to 1,048,576 bytes long.
    static func values(_ n: Int, big: Bool) -> String {
        guard big else { return (0..<n).map { _ in "\(Int.random(in: 0...32767))\n" }.joined() }
        return (0..<n).map { _ in
            let size = Int.random(in: 200_000...1_048_576)
            var bytes = [UInt8](repeating: 0, count: size / 4 * 3)
            for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
            return Data(bytes).base64EncodedString() + "\n"
        }.joined()
    }

    /// The timeline, the window (acceptor 1 crashed, wiped and restarted in it for those scenarios), SIGTERM,
    /// and the verdict: (problems, the PASS line's detail, the check's lines).
    static func run(_ plan: Plan, _ folder: CourseFolder, _ settings: Settings) throws -> ([String], String, [String]) {
        try folder.writeConfig(folder.config)
        for k in 1...2 { try values(plan.n, big: plan.bigValues).write(toFile: folder.file("prop\(k)"), atomically: false, encoding: .utf8) }
        let expected = 2 * plan.n
        let learnFiles = [folder.file("learn1"), folder.file("learn2")]

        let t0 = try folder.courseTimeline(acceptors: plan.acceptors, lateLearner: plan.lateLearner, clientDelay: settings.clientDelay)
        let end = t0 + plan.window * 1000
        // The window: the learners' outputs watched until SIGTERM time, while acceptor 1 is crashed here.
        var wait = LearnerWait(files: learnFiles, target: expected, since: t0, deadline: end)
        wait.settle = plan.window * 1000
        let outcome = Outcome(wait)
        Thread { outcome.watch() }.start()
        var problems: [String] = [], landed = ""
        if plan.crashAcceptor {
            sleep(until: t0 + plan.killAfterMs)
            folder.crash("acceptor1")
            let killedMid = learnFiles.contains { LearnerWait.lineCount($0) < expected }
            if plan.wipe {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: "\(folder.state)/acceptor-1.sqlite\(suffix)") }
                if !killedMid { problems.append("the kill did not land mid-run: everything was learned before it") }
            }
            sleep(until: nowMs() + plan.restartAfterMs)
            let counts = learnFiles.map(LearnerWait.lineCount)
            try folder.launch("acceptor", 1, append: true)
            landed = "; acceptor 1 restarted at \(seconds(nowMs() - t0))s with \(counts[0]) and \(counts[1]) of \(expected) learned"
        }
        let done = outcome.wait()
        problems = folder.stopAll() + problems

        let counts = learnFiles.map(LearnerWait.lineCount)
        let least = counts.min() ?? 0
        if plan.wipe {
            let log = (try? String(contentsOfFile: folder.file("acceptor1.err"), encoding: .utf8)) ?? ""
            if !log.contains("starts without state") { problems.append("acceptor 1 did not log that it starts without state") }
            if !log.contains("recovered from acceptors") { problems.append("acceptor 1 did not log that it recovered") }
        }
        if plan.expectEmpty {
            if counts != [0, 0] { problems.insert("learned \(counts[0]) and \(counts[1]) values without a majority of acceptors", at: 0) }
        } else if case .done = done {
        } else {
            problems.insert("learned only \(least)/\(expected) within \(plan.window)s (learn1 \(counts[0]), learn2 \(counts[1]))", at: 0)
        }
        let check = OutputCheck(values: [folder.file("prop1"), folder.file("prop2")], learners: (1...2).map {
            OutputCheck.Learner(output: folder.file("learn\($0)"), database: "\(folder.state)/learner-\($0).sqlite")
        }, expectEmpty: plan.expectEmpty).run()
        if !check.ok {
            let failures = check.lines.filter { $0.hasPrefix("FAIL ") }.map { String($0.dropFirst(5)) }
            problems += failures.isEmpty ? ["paxos check failed"] : failures
        }
        var doneMs = plan.window * 1000
        if case .done(let ms) = done { doneMs = ms }
        return (problems, "learned \(least)/\(expected) in \(seconds(doneMs))s" + landed, check.lines)
    }

    /// The audit's misconfiguration, as a user could make it.
    static func misconfig(_ folder: CourseFolder, _ settings: Settings) throws -> ([String], String, [String]) {
        let five = folder.file("five.conf"), three = folder.file("three.conf")
        try folder.writeConfig(five, extra: "acceptor-count 5\n")
        try folder.writeConfig(three, extra: "acceptor-count 3\n")
        try values(settings.n, big: false).write(toFile: folder.file("prop1"), atomically: false, encoding: .utf8)
        try folder.launch("acceptor", 1, config: five)
        try folder.launch("acceptor", 2, config: five)
        try folder.launch("learner", 2, config: five)
        try folder.launch("learner", 1, config: three)
        try folder.launch("proposer", 1, config: three)
        try folder.launch("client", 1, config: three)
        Thread.sleep(forTimeInterval: 4)
        let status = try Paxos.run(folder.inside([Paxos.binary, "status", five]), timeout: 20)
        let statusLines = String(decoding: status.stdout + status.stderr, as: UTF8.self).split(separator: "\n").map(String.init)
        // The client never hears its values decided: it is still running at SIGTERM (status 0) or gave up.
        var problems = folder.stopAll(tolerating: ["client1"])
        let counts = [folder.file("learn1"), folder.file("learn2")].map(LearnerWait.lineCount)
        if counts != [0, 0] { problems.append("learned \(counts[0]) and \(counts[1]) values with a proposer configured for 3 of 5 acceptors") }
        // paxos status: the acceptors' FOREIGN column (the 11th) counts the proposer's datagrams.
        var foreign: [Int] = []
        for line in statusLines {
            let fields = line.split(separator: " ")
            if fields.first == "acceptor", fields.count >= 11, let count = Int(fields[10]) { foreign.append(count) }
        }
        if !foreign.contains(where: { $0 > 0 }) { problems.append("paxos status shows no foreign datagrams at the acceptors") }
        let log = (try? String(contentsOfFile: folder.file("acceptor1.err"), encoding: .utf8)) ?? ""
        if !log.contains("acceptor-count 3, learner-count 2, this acceptor with acceptor-count 5") {
            problems.append("acceptor 1 logged no warning naming both settings")
        }
        return (problems, "nothing learned; \(foreign.reduce(0, +)) foreign datagrams counted at the acceptors", statusLines)
    }

    /// The learners' outputs watched on a thread of its own, what it found handed to the test's thread.
    final class Outcome: @unchecked Sendable {
        private let lock = NSCondition()
        private let learnerWait: LearnerWait // only read, by the watching thread
        private var value: LearnerWait.Outcome?
        init(_ wait: LearnerWait) { learnerWait = wait }
        func watch() {
            let outcome = learnerWait.run()
            lock.withLock { value = outcome; lock.broadcast() }
        }
        func wait() -> LearnerWait.Outcome {
            lock.withLock {
                while value == nil { lock.wait() }
                return value!
            }
        }
    }
}
