// Hostile datagrams against a live cluster (was scripts/spray-test.sh): while two clients submit, a
// sprayer multicasts junk and absurd-but-decodable messages (HostileMessages) to all four groups. Every node
// must stay up, both learners must learn exactly the clients' values in one order, a value submitted after
// the spray must still be learned, and the junk must show in the counters: dropped (unkeyed) or rejected,
// every single datagram (keyed, where forged protocol messages are sprayed too).
import Foundation
import PaxosCore
import PaxosNode
import PaxosTesting
import Testing

@Suite(.serialized) struct SprayTests {
    static let longLived: [(Role, UInt32)] = [(.acceptor, 1), (.acceptor, 2), (.acceptor, 3), (.proposer, 1), (.proposer, 2),
                                              (.learner, 1), (.learner, 2)]

    /// Runs the spray scenario; returns the spray's report and each long-lived node's counters at the end.
    func sprayScenario(key: String?, plan: Sprayer.Plan) async throws -> (LiveCluster, Sprayer.Report, [String: LiveCluster.Snapshot]) {
        let cluster = try LiveCluster(LiveCluster.Options(key: key))
        try cluster.start()
        let v1 = values(client: 1, count: 1_000)
        let v2 = values(client: 2, count: 1_000)
        let spraying = Task { try await Sprayer.spray(plan, at: cluster.config) }
        // Client 1 starts with the spray, client 2 halfway through it, so values flow while it lasts.
        try await Task.sleep(for: .milliseconds(300))
        try cluster.submit(client: 1, values: v1, timeout: 30)
        try await Task.sleep(for: .milliseconds(Int64(plan.seconds * 500)))
        try cluster.submit(client: 2, values: v2, timeout: 30)
        let report = try await spraying.value
        #expect(try await cluster.waitForStop(.client, 1, timeout: 30) == .finished)
        #expect(try await cluster.waitForStop(.client, 2, timeout: 30) == .finished)
        // Still deciding after the spray: one more value through the (possibly disturbed) cluster.
        let after = [Array("after-spray-\(UInt32.random(in: 0 ... .max))".utf8)]
        try cluster.submit(client: 3, values: after, timeout: 20)
        #expect(try await cluster.waitForStop(.client, 3, timeout: 20) == .finished, "a value submitted after the spray was not decided")
        try await expectEveryLearner(of: cluster, delivers: v1 + v2 + after, within: 10)
        var snapshots: [String: LiveCluster.Snapshot] = [:]
        for (role, id) in Self.longLived {
            let snapshot = cluster.snapshot(role, id)
            #expect(snapshot != nil, "\(role) \(id) died during the spray: \(String(describing: cluster.stopReason(role, id)))")
            snapshots["\(role) \(id)"] = snapshot
        }
        return (cluster, report, snapshots)
    }

    @Test func junkAndAbsurdMessagesAreDroppedAndChangeNothing() async throws {
        let plan = Sprayer.Plan(kinds: HostileMessages.defaultKinds + [.catalogue],
                                entries: HostileMessages.select(HostileMessages.catalogue(), categories: [.absurd],
                                                                skip: HostileMessages.knownBad))
        let (cluster, report, snapshots) = try await sprayScenario(key: nil, plan: plan)
        defer { cluster.shutdown() }
        #expect(report.perGroup > 1_000 && report.sendErrors == 0, "\(report)")
        // Every absurd entry went out at least once.
        #expect(plan.entries.allSatisfy { report.counts[$0.label] != nil }, "\(report.counts.count) kinds sprayed")
        for (name, s) in snapshots {
            #expect(s.counters.dropped > 0, "\(name) counted no undecodable datagram as dropped")
        }
        for l: UInt32 in 1...2 {
            #expect(!cluster.deliveredValues(learner: l).contains(where: HostileMessages.isForged), "learner \(l) learned a forged value")
        }
    }

    @Test func forgeriesAgainstAKeyedClusterAreAllRejected() async throws {
        let key = "spray-test-key-\(UInt64.random(in: .min ... .max))"
        let plan = Sprayer.Plan(kinds: HostileMessages.defaultKinds + [.catalogue, .catalogue],
                                entries: HostileMessages.catalogue())  // absurd, borderline and forged
        let (cluster, report, snapshots) = try await sprayScenario(key: key, plan: plan)
        defer { cluster.shutdown() }
        #expect(report.perGroup > 1_000 && report.sendErrors == 0, "\(report)")
        for l: UInt32 in 1...2 {
            #expect(!cluster.deliveredValues(learner: l).contains(where: HostileMessages.isForged), "learner \(l) learned a forged value")
        }
        // Each sprayed datagram reaches every listener once: acceptors and learners hear one group, proposers
        // two (their own and the learners'). Only the sprayer sends untagged datagrams: every one is
        // rejected before decoding (1% slack for datagrams the kernel drops on a full receive buffer).
        for (role, id) in Self.longLived {
            let name = "\(role) \(id)"
            guard let s = snapshots[name] else { continue }
            let want = role.listensTo.reduce(0) { $0 + report.sent[$1, default: 0] }
            #expect(s.rejected * 100 >= want * 99 && s.rejected <= want, "\(name) rejected \(s.rejected) of \(want)")
            #expect(s.counters.dropped == 0, "\(name) decoded (and dropped) \(s.counters.dropped) datagrams")
        }
    }
}
