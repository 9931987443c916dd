import PaxosCore
import PaxosNode
import Testing

/// What `paxos status` and node_exporter read: the status file's lines and the metrics, fragments included.
@Suite struct StatusTests {
    static func report(fragments: Int) -> StatusReport {
        var counters = NodeCounters()
        counters.received = 12
        counters.dropped = 1
        counters.foreign = 2
        counters.fragments = fragments
        return StatusReport(running: true, counters: counters, rejected: 3, sendErrors: 0,
                            progress: NodeProgress(instance: 7, values: 9, details: [("heard", "8")]))
    }

    @Test func statusFileCarriesEveryCounter() {
        let text = StatusFile.render(role: "learner", id: 2, pid: 42, now: 1.5, report: Self.report(fragments: 5))
        let fields = StatusFile.parse(text)
        #expect(fields["role"] == "learner")
        #expect(fields["received"] == "12")
        #expect(fields["dropped"] == "1")
        #expect(fields["foreign"] == "2")
        #expect(fields["rejected"] == "3")
        #expect(fields["fragments"] == "5")
        #expect(fields["heard"] == "8")
    }

    @Test func metricsCountFragments() {
        let metrics = NodeMetrics(role: .learner, id: 2)
        metrics.update(Self.report(fragments: 5))
        metrics.update(Self.report(fragments: 8))
        let line = metrics.exposition.split(separator: "\n").first { $0.hasPrefix("paxos_fragments_received_total") }
        #expect(line.map { $0.hasSuffix(" 8") } == true, "\(metrics.exposition)")
    }
}
