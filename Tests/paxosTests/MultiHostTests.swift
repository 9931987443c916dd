import Foundation
import PaxosCheck
import Testing

/// Several hosts (the former scripts/multihost-test.sh): the roles spread over three private network
/// namespaces joined by a bridge (``BridgedHosts``), multicast over their veth interfaces, hosts cut off
/// mid-run and healed. Needs root and iproute2's `ip`; skipped otherwise.
///
/// Each scenario gets its own network and first checks the plumbing (100-byte and 60000-byte multicast crosses
/// between all hosts; a cut host neither reaches nor hears host 2; healed, it does), then runs a fresh
/// cluster (``HostCluster``), 2N values (N = 2000 per client) fed over 8 s, hosts cut off 2 s after the
/// clients' start (later if nothing is learned yet, up to 6 s), for 4 s:
///
///   minority    cut host 1 (the leader's): learners 2..H must keep learning during the cut (their counts
///               1.5 s after the cut and at the heal differ) while learner 1, alone with one acceptor, learns
///               nothing; healed, learner 1 catches up and all values are learned
///   nomajority  cut hosts 1..ceil(H/2), each alone: no learner's count may move from 1.5 s after the cut
///               until the heal; healed, all completes
///
/// Throughout, every 0.2 s: all outputs are prefixes of one sequence and no process but a finished client has
/// exited. At the end (at most 20 s after healing, and 0.5 s more for late duplicates to show): all 2N values
/// learned, clients exited 0, SIGTERM obeyed within 3 s, and the course's checks pass (identical outputs,
/// exactly once, each learn database = its output). A failed scenario's folder is kept and named.
///
/// Environment: PAXOS_MULTIHOST_HOSTS (3..9, default 3), PAXOS_MULTIHOST_CUT_SIDE (switch, the default,
/// or host: see ``BridgedHosts/CutSide``), PAXOS_MULTIHOST_VALUES (N, default 2000).
@Suite(.serialized) struct MultiHostTests {
    static let canRun = getuid() == 0 && IPRoute.path != nil

    enum Scenario: String, CaseIterable, Sendable {
        case minority, nomajority
    }

    struct Settings {
        var hosts = 3
        var side = BridgedHosts.CutSide.atSwitch
        var n = 2000
        let feedMs = 8000, cutAtMs = 2000, cutForMs = 4000, finishMs = 20000
        /// After a cut: time for in-flight messages and the leader change to settle.
        let settleMs = 1500
        /// Keep running this long once all is learned, so that late duplicates show up.
        let tailMs = 500
        /// Between acceptors, learners, proposer 1, proposer 2, clients.
        let stage = 0.3

        static func fromEnvironment() throws -> Settings {
            let env = ProcessInfo.processInfo.environment
            var s = Settings()
            if let text = env["PAXOS_MULTIHOST_HOSTS"] {
                s.hosts = try #require(Int(text).flatMap { (3...9).contains($0) ? $0 : nil }, "PAXOS_MULTIHOST_HOSTS needs 3..9, not '\(text)'")
            }
            if let text = env["PAXOS_MULTIHOST_CUT_SIDE"] {
                s.side = try #require(BridgedHosts.CutSide(rawValue: text), "PAXOS_MULTIHOST_CUT_SIDE is switch or host, not '\(text)'")
            }
            if let text = env["PAXOS_MULTIHOST_VALUES"] {
                s.n = try #require(Int(text).flatMap { (1..<1_000_000).contains($0) ? $0 : nil }, "PAXOS_MULTIHOST_VALUES needs 1..999999, not '\(text)'")
            }
            return s
        }
    }

    @Test(.enabled(if: canRun, "needs root and iproute2's ip (network namespaces, veth pairs and a bridge)"),
          .timeLimit(.minutes(3)), arguments: Scenario.allCases)
    func cutOffAndHealed(_ scenario: Scenario) throws {
        let settings = try Settings.fromEnvironment()
        let net = try BridgedHosts(hosts: settings.hosts, side: settings.side)
        defer {
            let leftovers = net.tearDown()
            #expect(leftovers.isEmpty, "tearing the network down: \(leftovers.joined(separator: "; "))")
        }
        let plumbing = net.plumbing()
        try #require(plumbing.isEmpty, "FAIL plumbing: \(plumbing.joined(separator: "; "))")
        print("PASS plumbing (100 B and 60000 B multicast crosses between all \(net.hosts) hosts; cut at the \(net.side.rawValue), host 1 neither reaches nor hears host 2; healed, it does again)")

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-multihost-\(UUID().uuidString)/\(scenario)").path
        let cluster = try HostCluster(net: net, dir: dir, n: settings.n)
        defer { cluster.stopAll() }
        let (problems, info) = try Self.run(scenario, cluster, settings)
        if problems.isEmpty {
            print("PASS \(scenario) (\(info.joined(separator: "; ")))")
            try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent)
        } else {
            Issue.record("FAIL \(scenario): \(problems.joined(separator: "; "))\n     kept: \(dir) (values<k>, learn<k>, timeline, host<k>/*.log, host<k>/state/)")
        }
    }

    /// Runs the scenario on a fresh cluster; returns its problems (none: it passed) and what it saw.
    static func run(_ scenario: Scenario, _ cluster: HostCluster, _ s: Settings) throws -> (problems: [String], info: [String]) {
        let hosts = cluster.hosts, net = cluster.net, n = s.n
        let cut = scenario == .minority ? [1] : Array(1...(hosts + 1) / 2), cutNames = cut.map { String($0) }
        var problems: [String] = [], info: [String] = []
        var failure: String? // the first safety or liveness problem seen while sampling
        func polled(_ result: HostCluster.Poll) -> Bool {
            if case .problem(let p) = result { failure = p; return false }
            return true
        }

        try cluster.start(stage: s.stage, feedMs: s.feedMs)
        let t0 = cluster.t0
        var leadCut = "", leadHeal = "", caught: Int?, done: Int?
        scenario: do {
            guard polled(cluster.poll(until: t0 + s.cutAtMs)) else { break scenario }
            // The cut must come while values flow: on a loaded machine (a CI run's other tests beside this one)
            // the first election can take longer than the 2 s, so wait for the first learned value, up to 4 s more.
            if cluster.count(2) == 0 {
                guard polled(cluster.poll(until: t0 + s.cutAtMs + 4000, condition: { cluster.count(2) > 0 })) else { break scenario }
            }
            leadCut = cluster.leadersInfo()
            if cluster.count(2) == 0 {
                problems.append("nothing learned in the \(seconds(s.cutAtMs + 4000)) s before the cut (\(cluster.countsText))")
            }
            for k in cut {
                do { try net.cut(k) } catch { problems.append("could not cut host \(k): \(error)") }
            }
            let tCut = nowMs()
            cluster.note("cut hosts \(cutNames.joined(separator: " "))")
            guard polled(cluster.poll(until: tCut + s.settleMs)) else { break scenario }
            let atSettle = (1...hosts).map(cluster.count)
            guard polled(cluster.poll(until: tCut + s.cutForMs)) else { break scenario }
            let atHeal = (1...hosts).map(cluster.count)
            leadHeal = cluster.leadersInfo()
            for k in cut {
                do { try net.heal(k) } catch { problems.append("could not heal host \(k): \(error)") }
            }
            let tHeal = nowMs()
            cluster.note("healed hosts \(cutNames.joined(separator: " "))")

            let span = "between \(seconds(tCut - t0 + s.settleMs)) s and \(seconds(tHeal - t0)) s"
            var frozen: [String] = [], grew: [String] = []
            for k in 1...hosts {
                let d = atHeal[k - 1] - atSettle[k - 1]
                if scenario == .minority && k != 1 {
                    if d > 0 { grew.append("learner\(k) +\(d)") } else {
                        problems.append("no progress with a majority connected: learner \(k) stayed at \(atSettle[k - 1]) \(span)")
                    }
                } else if d == 0 { // no quorum within its reach: nothing new may be learned
                    frozen.append("learner\(k)")
                } else {
                    problems.append("learner \(k) went from \(atSettle[k - 1]) to \(atHeal[k - 1]) \(span) without a majority")
                }
            }
            let what = cut.count == 1 ? "host 1 cut off" : "hosts \(cutNames.joined(separator: ", ")) each cut off alone"
            info.append("\(what) \(seconds(tCut - t0)) s after the clients' start, for \(seconds(tHeal - tCut)) s")
            info.append(scenario == .minority ? "\(span) \(grew.joined(separator: " ")), \(frozen.joined(separator: " ")) frozen at \(atHeal[0])"
                                              : "\(span) all learners frozen (\(cluster.countsText))")

            // Healed: until every learner has everything and both clients are done. "caught": after the minority
            // cut, learner 1 reaches what the best-informed learner had at the heal; after the other, some
            // learner learns past it.
            let best = atHeal.max() ?? 0, deadline = tHeal + s.finishMs
            while true {
                if let p = cluster.sample() { failure = p; break scenario }
                let now = nowMs()
                if caught == nil {
                    let resumed = scenario == .minority ? cluster.count(1) >= best : (1...hosts).contains { cluster.count($0) > best }
                    if resumed { caught = now - tHeal }
                }
                if cluster.allDone {
                    done = now - tHeal
                    guard polled(cluster.poll(until: now + s.tailMs)) else { break scenario }
                    break
                }
                if now >= deadline { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            if done == nil {
                let waiting = cluster.clientsRunning
                problems.append("not complete \(seconds(s.finishMs)) s after healing: \(cluster.countsText) of \(2 * n)"
                                + (waiting.isEmpty ? "" : "; still running: \(waiting.joined(separator: " "))"))
            }
        }
        if let failure { problems.insert(failure, at: 0) }

        cluster.stopAll()
        problems += cluster.exitProblems()
        let verdict = cluster.check()
        if !verdict.ok { problems += verdict.lines.filter { $0.hasPrefix("FAIL ") }.map { String($0.dropFirst(5)) } }

        if problems.isEmpty {
            info.append(scenario == .minority ? "healed: learner \(cutNames.joined(separator: " ")) caught up in \(seconds(caught ?? 0)) s"
                                              : "healed: learning resumed after \(seconds(caught ?? 0)) s")
            info.append("all \(2 * n) values learned by \(hosts) learners \(seconds(done ?? 0)) s after healing")
            if !(leadCut + leadHeal).isEmpty {
                info.append("status files before the cut: \(leadCut.isEmpty ? "?" : leadCut); before the heal: \(leadHeal.isEmpty ? "?" : leadHeal)")
            }
            info.append("paxos check: \(verdict.lines.last ?? "")")
        } else {
            try? verdict.lines.joined(separator: "\n").appending("\n").write(toFile: "\(cluster.dir)/check.out", atomically: false, encoding: .utf8)
        }
        return (problems, info)
    }
}
