/// Tells the person running a client what it waits for, instead of silence until its timeout: a line
/// when nothing has been decided for a while (with the likely cause its counters point at), and its
/// progress every few seconds on a long run.
public struct ClientWatch: Sendable {
    public var id: UInt32
    /// Seconds without a decision, values waiting, before the first warning; then again every `repeatAfter`.
    public var stallAfter: Double = 3
    public var repeatAfter: Double = 10
    public var progressEvery: Double = 5

    private var lastDecided: UInt64 = 0
    private var lastDecisionAt: Double?
    private var warnedAt: Double?
    private var progressAt: Double?
    private var startedAt: Double?

    public init(id: UInt32) { self.id = id }

    public enum Line: Equatable, Sendable {
        case stalled(String)
        case progress(String)
    }

    /// Called about once a second with the client's report; returns what to log, if anything.
    public mutating func observe(_ report: StatusReport, at now: Double) -> Line? {
        let started = startedAt ?? now
        startedAt = started
        let decided = report.progress.values
        let waiting = report.progress.pending
        if decided != lastDecided || lastDecisionAt == nil || waiting == 0 {
            if decided != lastDecided { warnedAt = nil }
            lastDecided = decided
            lastDecisionAt = now
        }
        let quiet = now - (lastDecisionAt ?? now)
        if waiting > 0, quiet >= stallAfter, warnedAt.map({ now - $0 >= repeatAfter }) ?? true {
            warnedAt = now
            return .stalled(stallMessage(report, waiting: waiting, quiet: quiet))
        }
        if waiting > 0, quiet < stallAfter, now - started >= progressEvery, progressAt.map({ now - $0 >= progressEvery }) ?? true {
            progressAt = now
            return .progress("client \(id): \(decided) values decided, \(waiting) waiting")
        }
        return nil
    }

    private func stallMessage(_ r: StatusReport, waiting: UInt64, quiet: Double) -> String {
        let head = "client \(id): \(waiting) values waiting, none decided for \(Int(quiet)) s"
        if r.rejected > 0 {
            return head + "; \(r.rejected) datagrams were rejected for a missing or wrong HMAC tag: do all processes run with the same key (PAXOS_KEY or the config's key line)?"
        }
        if r.counters.foreign > 0 {
            return head + "; \(r.counters.foreign) datagrams came from processes with another acceptor-count or learner-count: every process needs the same config"
        }
        if r.counters.received == 0 {
            return head + "; no proposer has answered yet: is a proposer running with this config (same groups, ports and interface), and a majority of the acceptors?"
        }
        return head + "; is a majority of the acceptors running, and a proposer?"
    }
}
