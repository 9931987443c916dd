import Logging
import PaxosCore

/// Where a node's effects go. The stores implement the persistence protocols; tests use recorders.
public protocol AcceptorPersistence: AnyObject { func write(_ w: AcceptorWrite) throws }
public protocol LearnerPersistence: AnyObject { func write(_ instances: [DeliveredInstance]) throws }
public protocol ProposerPersistence: AnyObject { func write(highestRound: UInt64) throws }

/// Sends encoded messages to a group; `flush` ends a burst of sends.
public struct Outbox {
    public var send: (Outgoing) -> Void
    public var flush: () -> Void

    public init(send: @escaping (Outgoing) -> Void, flush: @escaping () -> Void = {}) {
        self.send = send
        self.flush = flush
    }
}

/// Counters every node keeps, for logs and the operator's view.
public struct NodeCounters: Sendable {
    public init() {}

    public var received = 0
    public var dropped = 0
    /// Datagrams from processes with another cluster fingerprint (acceptor-count, learner-count).
    public var foreign = 0
    /// Datagrams from an older process playing this node's own role and id.
    public var twin = 0
    public var sent = 0
    /// Fragments of messages larger than one datagram received (each whole message counts once more in
    /// `received`, once reassembled); refused ones count in `dropped`.
    public var fragments = 0
    public var commits = 0
    public var lastDropReason: String?
}

/// One process's protocol role behind a uniform interface for the runtime.
///
/// The shells' contract lives here: inputs of a burst (every datagram read in one go, or one tick) are
/// fed to the role, their effects are gathered, and at the end of the burst the gathered write is made
/// durable in ONE transaction before any message of the burst is sent or any value printed. That is group
/// commit, and it is what makes the acceptors' promises and votes survive kill -9.
public protocol Node: AnyObject {
    var counters: NodeCounters { get }
    /// Decodes and handles one datagram; a datagram that does not decode is dropped and counted.
    func receive(_ datagram: [UInt8])
    /// The same, for a datagram that came on `group`'s socket (a role listening to several groups takes
    /// only some messages from some of them: see ``Role/takes(_:from:)``).
    func receive(_ datagram: [UInt8], from group: Group)
    func tick(now: UInt64)
    /// Persists what the burst produced, then sends (and, for learners, prints) it.
    func endOfBurst() throws
    /// The last burst before the node stops: everything it holds is persisted and sent, even what a
    /// learner pacing its commits (``LearnerNode/pacesCommits``) would have left to its next tick.
    func endOfLastBurst() throws
    /// A client whose values are all decided is finished; other roles never are.
    var isFinished: Bool { get }
    /// What the operator's view shows of this role, beside the counters.
    var progress: NodeProgress { get }
    /// Where the node logs every message it handles and sends: the rare kinds (elections, catch-up,
    /// recovery, trims) at debug level, the routine ones at trace. Nil: nothing is logged.
    var logger: Logger? { get set }
}

/// A role's position in the log, for `paxos status` and the metrics.
public struct NodeProgress: Sendable, Equatable {
    /// Acceptor: highest instance accepted; proposer: last instance of its decided prefix;
    /// learner: last instance delivered; client: 0.
    public var instance: UInt64 = 0
    /// Learner: values delivered; client: values decided.
    public var values: UInt64 = 0
    /// Client: values read and not yet decided.
    public var pending: UInt64 = 0
    /// Role-specific details, e.g. a proposer's mode and ballot.
    public var details: [(String, String)] = []

    public init(instance: UInt64 = 0, values: UInt64 = 0, pending: UInt64 = 0, details: [(String, String)] = []) {
        self.instance = instance
        self.values = values
        self.pending = pending
        self.details = details
    }

    public static func == (a: NodeProgress, b: NodeProgress) -> Bool {
        a.instance == b.instance && a.values == b.values && a.pending == b.pending && a.details.map { "\($0)=\($1)" } == b.details.map { "\($0)=\($1)" }
    }
}

extension Node {
    public var isFinished: Bool { false }
    public func receive(_ datagram: [UInt8], from group: Group) { receive(datagram) }
    public func endOfLastBurst() throws { try endOfBurst() }
    /// A node that logs nothing of its own (a wrapper around another node, say).
    public var logger: Logger? {
        get { nil }
        set {}
    }
}

/// What a node tells its operator (the shell logs it).
public enum NodeNotice: Sendable, Equatable {
    /// The first datagram from `sender` with another cluster fingerprint than `ours`.
    case foreignCluster(sender: Sender, theirs: ClusterFingerprint, ours: ClusterFingerprint)
    /// The first datagram from an older process playing this node's role and id.
    case olderTwin(Sender)
    /// A newer process plays this node's role and id: this node stops.
    case displaced(by: Sender)
    case acceptor(Paxos.AcceptorEvent)
}

/// A newer process took this node's role and id; the node stops rather than act as a second copy.
public struct Displaced: Error, CustomStringConvertible {
    public var me: Sender
    public var by: Sender
    public var description: String {
        "\(me.role) \(me.id) stops: another process started as \(me.role) \(me.id) (incarnation \(by.incarnation)); "
            + "two processes must never share one id"
    }
}

/// Decodes datagrams and applies the cluster's admission rules (see ``Paxos/Admission``).
struct Gate {
    let admission: Paxos.Admission
    var notify: (NodeNotice) -> Void
    var logger: Logger?
    private var warned: Set<Sender> = []
    private(set) var displacedBy: Sender?
    /// Pieces of messages larger than one datagram, until each is whole (bounded; see ``Reassembler``).
    private(set) var reassembler = Reassembler()

    init(admission: Paxos.Admission, notify: @escaping (NodeNotice) -> Void) {
        self.admission = admission
        self.notify = notify
    }

    /// The message of a datagram this node should handle, or nil (counted) for any other.
    mutating func open(_ datagram: [UInt8], counters: inout NodeCounters) -> Message? {
        var datagram = datagram
        if Wire.isFragment(datagram) {
            counters.fragments += 1
            let outcome: Reassembler.Outcome
            switch Wire.decodeFragment(datagram) {
            case .success(let fragment): outcome = reassembler.add(fragment)
            case .failure(let error): outcome = .dropped(error.description)
            }
            switch outcome {
            case .incomplete: return nil
            case .complete(let whole): datagram = whole
            case .dropped(let why):
                counters.dropped += 1
                counters.lastDropReason = why
                logger?.debug("dropped a fragment of \(datagram.count) bytes: \(why)")
                return nil
            }
        }
        let decoded: Wire.Datagram
        switch Wire.decodeDatagram(datagram) {
        case .success(let d): decoded = d
        case .failure(let error):
            counters.dropped += 1
            counters.lastDropReason = error.description
            logger?.debug("dropped a datagram of \(datagram.count) bytes: \(error)")
            return nil
        }
        switch admission.verdict(on: decoded.header) {
        case .admit:
            counters.received += 1
            if let logger { log(logger, "received", decoded.message, "from \(decoded.header.sender.role) \(decoded.header.sender.id)") }
            return decoded.message
        case .foreignCluster(let theirs):
            counters.foreign += 1
            if warned.insert(decoded.header.sender).inserted {
                notify(.foreignCluster(sender: decoded.header.sender, theirs: theirs, ours: admission.fingerprint))
            }
            return nil
        case .olderTwin(let twin):
            counters.twin += 1
            if warned.insert(twin).inserted { notify(.olderTwin(twin)) }
            return nil
        case .displaced(let newer):
            if displacedBy == nil {
                displacedBy = newer
                notify(.displaced(by: newer))
            }
            return nil
        }
    }

    /// Sends the burst's messages and ends the burst (a node's sends go out only after its write is durable),
    /// coalesced by the role's rules (``Paxos/coalesced(_:settings:)``: one 2B for a burst's 2As, say).
    func flush(_ sends: inout [Outgoing], settings: ProtocolSettings, outbox: Outbox, counters: inout NodeCounters) {
        guard !sends.isEmpty else { return }
        let coalesced = Paxos.coalesced(sends, settings: settings)
        for out in coalesced {
            outbox.send(out)
            if let logger { log(logger, "sent", out.message, "to the \(out.group)") }
        }
        counters.sent += coalesced.count
        sends.removeAll(keepingCapacity: true)
        outbox.flush()
    }

    private func log(_ logger: Logger, _ verb: String, _ message: Message, _ peer: String) {
        let level: Logger.Level = message.isRoutine ? .trace : .debug
        guard logger.logLevel <= level else { return }
        logger.log(level: level, "\(verb) \(message.summary) \(peer)")
    }

    /// Throws once a newer process took this node's identity.
    func check() throws {
        if let by = displacedBy { throw Displaced(me: admission.me, by: by) }
    }
}

extension Paxos.Admission {
    /// Admits what tools and tests build (`Wire.Header.unattributed`): for nodes built outside a process.
    public static let unattributed = Paxos.Admission(me: Sender(role: .client, id: 0, incarnation: 0, startedAt: 0),
                                                     fingerprint: ProtocolSettings().fingerprint)
}

public final class AcceptorNode: Node {
    public private(set) var acceptor: Paxos.Acceptor
    public private(set) var counters = NodeCounters()
    private let store: AcceptorPersistence
    private let outbox: Outbox
    private var write = AcceptorWrite()
    private var sends: [Outgoing] = []

    private var gate: Gate
    public var logger: Logger? { get { gate.logger } set { gate.logger = newValue } }
    private var events: [Paxos.AcceptorEvent] = []

    public init(acceptor: Paxos.Acceptor, store: AcceptorPersistence, outbox: Outbox,
                admission: Paxos.Admission = .unattributed, notify: @escaping (NodeNotice) -> Void = { _ in }) {
        self.acceptor = acceptor
        self.store = store
        self.outbox = outbox
        self.gate = Gate(admission: admission, notify: notify)
    }

    public func receive(_ datagram: [UInt8]) {
        guard let message = gate.open(datagram, counters: &counters) else { return }
        absorb(acceptor.on(message))
    }

    public func tick(now: UInt64) { absorb(acceptor.tick(now: now)) }

    private func absorb(_ effects: Paxos.AcceptorEffects) {
        write.merge(effects.persist)
        sends.append(contentsOf: effects.send)
        events.append(contentsOf: effects.events)
    }

    public var progress: NodeProgress {
        NodeProgress(instance: acceptor.highestAccepted,
                     details: (acceptor.isRecovering ? [("recovering", "yes")] : [])
                        + [("promised", "\(acceptor.promised)"), ("accepted", "\(acceptor.accepted.count)"),
                           ("trimmed", "\(acceptor.trimmedThrough)")])
    }

    public func endOfBurst() throws {
        try gate.check()
        if !write.isEmpty {
            try store.write(write)
            counters.commits += 1
            write = AcceptorWrite()
        }
        // Told only once durable: "recovered" means the rebuilt state is on disk.
        for event in events { gate.notify(.acceptor(event)) }
        events.removeAll()
        gate.flush(&sends, settings: acceptor.settings, outbox: outbox, counters: &counters)
    }
}

public final class ProposerNode: Node {
    public private(set) var proposer: Paxos.Proposer
    public private(set) var counters = NodeCounters()
    /// Told when this proposer becomes a candidate, the leader, or a follower again (for the log).
    public var onModeChange: ((Paxos.Proposer.Mode, Ballot) -> Void)?
    private let store: ProposerPersistence
    private let outbox: Outbox
    private var highestRound: UInt64?
    private var sends: [Outgoing] = []

    private var gate: Gate
    public var logger: Logger? { get { gate.logger } set { gate.logger = newValue } }

    public init(proposer: Paxos.Proposer, store: ProposerPersistence, outbox: Outbox,
                admission: Paxos.Admission = .unattributed, notify: @escaping (NodeNotice) -> Void = { _ in }) {
        self.proposer = proposer
        self.store = store
        self.outbox = outbox
        self.gate = Gate(admission: admission, notify: notify)
    }

    public func receive(_ datagram: [UInt8]) {
        guard let message = gate.open(datagram, counters: &counters) else { return }
        let before = proposer.mode
        absorb(proposer.on(message))
        if proposer.mode != before { onModeChange?(proposer.mode, proposer.ballot) }
    }

    public func tick(now: UInt64) {
        let before = proposer.mode
        absorb(proposer.tick(now: now))
        if proposer.mode != before { onModeChange?(proposer.mode, proposer.ballot) }
    }

    public var progress: NodeProgress {
        NodeProgress(instance: proposer.firstUndecided - 1,
                     details: [("mode", "\(proposer.mode)"), ("ballot", "\(proposer.ballot)"), ("backlog", "\(proposer.backlog)")])
    }

    private func absorb(_ effects: Paxos.ProposerEffects) {
        if let p = effects.persist { highestRound = max(highestRound ?? 0, p.highestRound) }
        sends.append(contentsOf: effects.send)
    }

    public func endOfBurst() throws {
        try gate.check()
        if let round = highestRound {
            try store.write(highestRound: round)
            counters.commits += 1
            highestRound = nil
        }
        gate.flush(&sends, settings: proposer.settings, outbox: outbox, counters: &counters)
    }
}

public final class LearnerNode: Node {
    public private(set) var learner: Paxos.Learner
    public private(set) var counters = NodeCounters()
    private let store: LearnerPersistence
    private let outbox: Outbox
    private let output: ([Delivery]) throws -> Void
    private var delivered: [DeliveredInstance] = []
    private var sends: [Outgoing] = []
    private var cannotCatchUp: String?

    struct CannotCatchUp: Error, CustomStringConvertible {
        var description: String
    }

    private var gate: Gate
    public var logger: Logger? { get { gate.logger } set { gate.logger = newValue } }

    /// Whether a burst's deliveries are printed before they are persisted (``init(learner:store:outbox:output:printsFirst:pacesCommits:printedAhead:admission:notify:)``).
    public let printsFirst: Bool
    /// Printing first, a learner commits on its ticks only (every `tick-ms`), or sooner once
    /// ``pacedCommitValues`` values wait: its commit is off the path to the output, and every fsync it
    /// spares is one the acceptors, whose commits are on that path, need not queue behind on a shared disk.
    /// Its progress reports wait with the commit (persist, then send): one tick at most.
    public let pacesCommits: Bool
    /// Deliveries waiting for a paced commit, whatever the tick, once this many are printed and not persisted.
    public static let pacedCommitValues = 4_096
    /// How many of `delivered`'s deliveries are printed already (a paced commit prints as it goes).
    private var printedWaiting = 0
    /// Whether this burst is a tick's: a paced learner commits then.
    private var ticked = false
    /// Values printed before a crash beyond what the database holds, for the positions from
    /// `printedAheadFrom` on: re-learned from the cluster, persisted, checked against these, not printed again.
    private var printedAhead: [[UInt8]]
    private var printedAheadFrom: UInt64

    /// The printed values differ from what was learned for their positions: the output is not this
    /// learner's (or its order broke); it stops rather than persist either.
    struct PrintedAheadMismatch: Error, CustomStringConvertible {
        var position: UInt64
        var printed: [UInt8]
        var learned: [UInt8]
        var description: String {
            "the learner's output holds '\(String(decoding: printed.prefix(80), as: UTF8.self))' at position \(position), "
                + "but the value learned there is '\(String(decoding: learned.prefix(80), as: UTF8.self))'"
        }
    }

    /// `output` prints deliveries (in order). By default it is called only after they are durable. With
    /// `printsFirst` a burst's deliveries are printed as soon as they are decided (a quorum of acceptors
    /// holds them durably), then persisted, then the burst's messages are sent — so a progress report
    /// still names only what is durable here. A crash between printing and persisting leaves the output
    /// ahead of the database: the next start passes those values as `printedAhead` (positions
    /// `learner.nextPosition` on), and they are persisted when learned again, without printing.
    public init(learner: Paxos.Learner, store: LearnerPersistence, outbox: Outbox, output: @escaping ([Delivery]) throws -> Void,
                printsFirst: Bool = false, pacesCommits: Bool = false, printedAhead: [[UInt8]] = [],
                admission: Paxos.Admission = .unattributed, notify: @escaping (NodeNotice) -> Void = { _ in }) {
        self.learner = learner
        self.store = store
        self.outbox = outbox
        self.output = output
        self.printsFirst = printsFirst
        self.pacesCommits = printsFirst && pacesCommits
        self.printedAhead = printedAhead
        self.printedAheadFrom = learner.nextPosition
        self.gate = Gate(admission: admission, notify: notify)
    }

    /// Whether it holds deliveries printed (or to print) and not yet persisted: a paced learner between ticks.
    public var holdsUncommitted: Bool { !delivered.isEmpty }

    /// How many values printed before the last crash are still to be learned again (0 once done).
    public var printedAheadRemaining: Int { printedAhead.count }

    public func receive(_ datagram: [UInt8]) { receive(datagram, from: .learners) }

    /// From the acceptors' group a learner takes only the leader's 2As; the rest there (another learner's
    /// catch-up request, which also comes on the learners' group, promises asked for, presence) is not
    /// for it, and is dropped by its type byte before it is decoded.
    public func receive(_ datagram: [UInt8], from group: Group) {
        if group == .acceptors && !Wire.isFragment(datagram) && !Wire.isAccept(datagram) { return }
        guard let message = gate.open(datagram, counters: &counters) else { return }
        guard Role.learner.takes(message, from: group) else { return }
        absorb(learner.on(message))
    }

    public func tick(now: UInt64) {
        ticked = true
        absorb(learner.tick(now: now))
    }

    public var progress: NodeProgress {
        NodeProgress(instance: learner.nextInstance - 1, values: learner.nextPosition - 1,
                     details: [("heard", "\(learner.highestSeen)")])
    }

    private func absorb(_ effects: Paxos.LearnerEffects) {
        delivered.append(contentsOf: effects.persist)
        sends.append(contentsOf: effects.send)
        if let why = effects.cannotCatchUp { cannotCatchUp = why }
    }

    public func endOfBurst() throws { try endOfBurst(last: false) }

    public func endOfLastBurst() throws { try endOfBurst(last: true) }

    private func endOfBurst(last: Bool) throws {
        defer { ticked = false }
        try gate.check()
        if printsFirst {
            // Printing first, a failed print stops the learner before its commit: the next start cuts a
            // partial line and learns those values again (a later burst must never append to half a line).
            let fresh = delivered[printedWaiting...].flatMap(\.deliveries)
            printedWaiting = delivered.count
            let deliveries = try unprinted(fresh)
            if !deliveries.isEmpty { try output(deliveries) }
            if pacesCommits && !ticked && !last && cannotCatchUp == nil
                && delivered.reduce(0, { $0 + $1.deliveries.count }) < Self.pacedCommitValues {
                // Only progress reports name what is durable here: they wait for the commit. Catch-up requests
                // and answers (decided values) leave now, or a learner catching up asked once a tick.
                func isReport(_ out: Outgoing) -> Bool { if case .progress = out.message { true } else { false } }
                var leaving = sends.filter { !isReport($0) }
                sends = sends.filter(isReport)
                gate.flush(&leaving, settings: learner.settings, outbox: outbox, counters: &counters)
                return
            }
            if !delivered.isEmpty { try commitDelivered() }
        } else if !delivered.isEmpty {
            let deliveries = try unprinted(delivered.flatMap(\.deliveries))
            try commitDelivered()
            // Committed first, the values are in the database whatever happens to the print (a reader
            // that went away): the learner goes on.
            if !deliveries.isEmpty { try? output(deliveries) }
        }
        gate.flush(&sends, settings: learner.settings, outbox: outbox, counters: &counters)
        if let why = cannotCatchUp { throw CannotCatchUp(description: why) }
    }

    /// Persists every delivery the learner holds, in one transaction.
    private func commitDelivered() throws {
        try store.write(delivered)
        counters.commits += 1
        delivered = []
        printedWaiting = 0
    }

    /// The deliveries not printed yet: those whose position an earlier run printed before it crashed
    /// are checked against what it printed and left out.
    private func unprinted(_ deliveries: [Delivery]) throws -> [Delivery] {
        guard !printedAhead.isEmpty else { return deliveries }
        var rest = deliveries[...]
        while let d = rest.first, d.position < printedAheadFrom + UInt64(printedAhead.count) {
            rest = rest.dropFirst()
            guard d.position >= printedAheadFrom else { continue }
            let printed = printedAhead[Int(d.position - printedAheadFrom)]
            guard printed == d.submission.value else {
                throw PrintedAheadMismatch(position: d.position, printed: printed, learned: d.submission.value)
            }
        }
        if let last = deliveries.last, last.position + 1 >= printedAheadFrom + UInt64(printedAhead.count) {
            printedAhead = []
        }
        return Array(rest)
    }
}

public final class ClientNode: Node {
    public private(set) var client: Paxos.Client
    public private(set) var counters = NodeCounters()
    private let outbox: Outbox
    private var sends: [Outgoing] = []

    private var gate: Gate
    public var logger: Logger? { get { gate.logger } set { gate.logger = newValue } }

    public init(client: Paxos.Client, outbox: Outbox,
                admission: Paxos.Admission = .unattributed, notify: @escaping (NodeNotice) -> Void = { _ in }) {
        self.client = client
        self.outbox = outbox
        self.gate = Gate(admission: admission, notify: notify)
    }

    /// Values read from standard input.
    public func submit(_ values: [[UInt8]]) { sends.append(contentsOf: client.submit(values).send) }

    public func closeInput() { client.closeInput() }

    /// The sequence number of the last value sent (``Paxos/Client/sentThrough``).
    public var sentThrough: UInt64 { client.sentThrough }

    /// Told of the ids of this client run's values the leader reports decided, each once (the first report).
    /// An embedding application's client answers its submitters with it.
    public var onDecided: (([SubmissionID]) -> Void)?

    public func receive(_ datagram: [UInt8]) {
        guard let message = gate.open(datagram, counters: &counters) else { return }
        let effects = client.on(message)
        sends.append(contentsOf: effects.send)
        if let onDecided, !effects.decided.isEmpty {
            onDecided(effects.decided.map { SubmissionID(client: client.id, incarnation: client.incarnation, sequence: $0) })
        }
    }

    public func tick(now: UInt64) { sends.append(contentsOf: client.tick(now: now).send) }

    public func endOfBurst() throws { gate.flush(&sends, settings: client.settings, outbox: outbox, counters: &counters) }

    public var isFinished: Bool { client.isDone }

    public var progress: NodeProgress {
        NodeProgress(values: UInt64(client.decidedCount), pending: UInt64(client.undecided),
                     details: [("undecided", "\(client.undecided)")])
    }
}
