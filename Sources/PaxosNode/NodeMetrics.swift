import Metrics
import PaxosCore
import Prometheus

/// Exports a node's counters through swift-metrics, in Prometheus' text format, to
/// `<state>/<role>-<id>.prom` (the format node_exporter's textfile collector reads).
/// Each node has its own registry (never the process-wide `MetricsSystem`), so several nodes can run in
/// one process: tests, and applications that embed them. An application that wants them in its own
/// `MetricsSystem` passes its factory instead (then ``exposition`` holds nothing).
public final class NodeMetrics {
    private let registry = PrometheusCollectorRegistry()
    private let received, dropped, rejected, foreign, sent, commits, sendErrors, fragments: Metrics.Counter
    private let instance, values: Metrics.Gauge
    private var last: StatusReport?

    public init(role: Role, id: UInt32, factory: (any MetricsFactory)? = nil) {
        let factory = factory ?? PrometheusMetricsFactory(registry: registry)
        let labels = [("role", role.rawValue), ("id", "\(id)")]
        received = Metrics.Counter(label: "paxos_datagrams_received_total", dimensions: labels, factory: factory)
        dropped = Metrics.Counter(label: "paxos_datagrams_dropped_total", dimensions: labels, factory: factory)
        rejected = Metrics.Counter(label: "paxos_datagrams_rejected_total", dimensions: labels, factory: factory)
        foreign = Metrics.Counter(label: "paxos_datagrams_foreign_total", dimensions: labels, factory: factory)
        sent = Metrics.Counter(label: "paxos_messages_sent_total", dimensions: labels, factory: factory)
        commits = Metrics.Counter(label: "paxos_commits_total", dimensions: labels, factory: factory)
        sendErrors = Metrics.Counter(label: "paxos_send_errors_total", dimensions: labels, factory: factory)
        fragments = Metrics.Counter(label: "paxos_fragments_received_total", dimensions: labels, factory: factory)
        instance = Metrics.Gauge(label: "paxos_instance", dimensions: labels, factory: factory)
        values = Metrics.Gauge(label: "paxos_values", dimensions: labels, factory: factory)
    }

    public func update(_ r: StatusReport) {
        let before = last
        func delta(_ now: Int, _ then: Int?) -> Int64 { Int64(max(now - (then ?? 0), 0)) }
        received.increment(by: delta(r.counters.received, before?.counters.received))
        dropped.increment(by: delta(r.counters.dropped, before?.counters.dropped))
        rejected.increment(by: delta(r.rejected, before?.rejected))
        foreign.increment(by: delta(r.counters.foreign, before?.counters.foreign))
        sent.increment(by: delta(r.counters.sent, before?.counters.sent))
        commits.increment(by: delta(r.counters.commits, before?.counters.commits))
        sendErrors.increment(by: delta(r.sendErrors, before?.sendErrors))
        fragments.increment(by: delta(r.counters.fragments, before?.counters.fragments))
        instance.record(Double(r.progress.instance))
        values.record(Double(r.progress.values))
        last = r
    }

    public var exposition: String { registry.emitToString() }
}
