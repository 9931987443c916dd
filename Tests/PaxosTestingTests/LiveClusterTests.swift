// Whole clusters in this process (LiveCluster): the real nodes, stores and multicast sockets on loopback.
import Foundation
import PaxosCore
import PaxosNode
import PaxosTesting
import Testing

/// `count` distinct values for client `client`.
func values(client: UInt32, count: Int, tag: String = "v") -> [[UInt8]] {
    (1...count).map { Array("\(tag)\(client)-\($0)".utf8) }
}

/// Waits until every learner delivered `expected` values (or the time is up), then checks agreement and
/// exactly-once: every learner's sequence is the same, and holds each submitted value once and nothing
/// else. Returns whether every learner got them all.
@discardableResult
func expectEveryLearner(of cluster: LiveCluster, delivers submitted: [[UInt8]], within seconds: Double,
                        sourceLocation: SourceLocation = #_sourceLocation) async throws -> Bool {
    let learners = (1...cluster.options.learners).map(UInt32.init)
    let all = try await cluster.waitUntil(timeout: seconds) {
        learners.allSatisfy { cluster.delivered(learner: $0).count >= submitted.count }
    }
    let first = cluster.deliveredValues(learner: learners[0])
    for l in learners {
        let got = cluster.deliveredValues(learner: l)
        #expect(got.count == submitted.count, "learner \(l) delivered \(got.count) of \(submitted.count) values",
                sourceLocation: sourceLocation)
        #expect(got == first, "learners 1 and \(l) delivered different sequences", sourceLocation: sourceLocation)
        let ids = cluster.delivered(learner: l).map(\.id)
        #expect(Set(ids).count == ids.count, "learner \(l) delivered a submission twice", sourceLocation: sourceLocation)
        #expect(Set(got).count == got.count, "learner \(l) delivered a value twice", sourceLocation: sourceLocation)
        let unknown = Set(got).subtracting(submitted)
        #expect(unknown.isEmpty, "learner \(l) delivered \(unknown.count) values nobody submitted", sourceLocation: sourceLocation)
        let missing = Set(submitted).subtracting(got)
        #expect(missing.isEmpty, "learner \(l) misses \(missing.count) values", sourceLocation: sourceLocation)
    }
    #expect(cluster.problems.isEmpty, "\(cluster.problems)", sourceLocation: sourceLocation)
    return all
}

@Suite(.serialized) struct LiveClusterTests {
    @Test func twoClientsThroughAWholeClusterAreLearnedOnceInOneOrder() async throws {
        let cluster = try LiveCluster()
        defer { cluster.shutdown() }
        try cluster.start()
        let v1 = values(client: 1, count: 1_500)
        let v2 = values(client: 2, count: 1_500)
        try cluster.submit(client: 1, values: v1, timeout: 30)
        try cluster.submit(client: 2, values: v2, timeout: 30)
        #expect(try await cluster.waitForStop(.client, 1, timeout: 30) == .finished)
        #expect(try await cluster.waitForStop(.client, 2, timeout: 30) == .finished)
        try await expectEveryLearner(of: cluster, delivers: v1 + v2, within: 10)
        // Nothing stopped on its own along the way.
        for (role, count) in [(Role.acceptor, 3), (.proposer, 2), (.learner, 2)] {
            for id in 1...UInt32(count) { #expect(cluster.isRunning(role, id), "\(role) \(id) stopped") }
        }
    }

    @Test func aLearnerKilledMidRunRestartsFromItsDatabaseAndCatchesUp() async throws {
        let cluster = try LiveCluster()
        defer { cluster.shutdown() }
        try cluster.start()
        let v1 = values(client: 1, count: 1_500)
        let v2 = values(client: 2, count: 1_500)
        try cluster.submit(client: 1, values: v1, timeout: 30)
        // Killed as soon as it delivered something (some of client 1's values), and down while client 2
        // starts and learner 1 delivers 300 more: it restarts from its database, behind, and must catch up
        // what it missed while values still flow.
        #expect(try await cluster.waitUntil(timeout: 20) { !cluster.delivered(learner: 2).isEmpty })
        #expect(cluster.kill(.learner, 2) == .signal(SIGKILL))
        let before = cluster.delivered(learner: 2).count
        try cluster.submit(client: 2, values: v2, timeout: 30)
        #expect(try await cluster.waitUntil(timeout: 20) { cluster.delivered(learner: 1).count >= before + 300 })
        try cluster.start(.learner, 2)
        #expect(try await cluster.waitForStop(.client, 1, timeout: 30) == .finished)
        #expect(try await cluster.waitForStop(.client, 2, timeout: 30) == .finished)
        try await expectEveryLearner(of: cluster, delivers: v1 + v2, within: 10)
    }

    /// Values up to max-value-bytes (1 MiB), each many datagrams long, while acceptor 1 and learner 2 are
    /// killed mid-run and restarted: every learner delivers each value whole, once, in one order.
    @Test func valuesOfAMebibyteSurviveKillsWhole() async throws {
        let cluster = try LiveCluster(.init(configLines: ["max-value-bytes 1048576"]))
        defer { cluster.shutdown() }
        try cluster.start()
        func value(_ client: UInt32, _ k: Int, bytes: Int) -> [UInt8] {
            let tag = Array("big\(client)-\(k)-".utf8)
            return tag + (0..<(bytes - tag.count)).map { UInt8(truncatingIfNeeded: 0x41 + ($0 &* 7 &+ k) % 26) }
        }
        // Light enough to run beside the other suites of swift test (a debug build): 1.3 MB per client.
        let sizes = [1 << 20, 17, 200_000, 65_000, 300, 100]
        let v1 = sizes.enumerated().map { value(1, $0.offset, bytes: max($0.element, 16)) }
        let v2 = sizes.reversed().enumerated().map { value(2, $0.offset, bytes: max($0.element, 16)) }
        try cluster.submit(client: 1, values: v1, timeout: 60)
        #expect(try await cluster.waitUntil(timeout: 30) { !cluster.delivered(learner: 1).isEmpty })
        #expect(cluster.kill(.acceptor, 1) == .signal(SIGKILL))
        #expect(cluster.kill(.learner, 2) == .signal(SIGKILL))
        try cluster.submit(client: 2, values: v2, timeout: 60)
        #expect(try await cluster.waitUntil(timeout: 30) { cluster.delivered(learner: 1).count >= 2 })
        try cluster.start(.acceptor, 1)
        try cluster.start(.learner, 2)
        #expect(try await cluster.waitForStop(.client, 1, timeout: 60) == .finished)
        #expect(try await cluster.waitForStop(.client, 2, timeout: 60) == .finished)
        try await expectEveryLearner(of: cluster, delivers: v1 + v2, within: 30)
    }
}
