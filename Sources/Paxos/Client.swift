import DequeModule
import Logging
import NIOCore
import PaxosCore
import PaxosNode
import ServiceLifecycle
import Synchronization

/// A client run in-process: ``submit(_:timeout:)`` hands a value to the cluster and returns once it is decided.
///
/// ```swift
/// let client = Client(id: 1, configuration: configuration)
/// // in one task (or a ServiceGroup):
/// try await client.run()
/// // in any number of others, concurrently:
/// let id = try await client.submit(Array("hello".utf8))
/// ```
///
/// Values submitted from concurrent tasks are sent together (one datagram holds many), at most the cluster's
/// `client-window` undecided at once; the rest wait in this process in the order they came. The client
/// resubmits a value until the leader reports it decided, so a lost datagram or a leader change only delays
/// it; every learner delivers each value exactly once.
///
/// Its id shares one namespace with the `paxos client` processes of the cluster: two clients running at once
/// never share one (the older one would stop).
public final class Client: Service, Sendable {
    public let id: UInt32
    public let configuration: PaxosConfiguration
    /// How long ``submit(_:timeout:)`` waits for a decision unless told otherwise.
    public let defaultTimeout: Duration

    /// One submission: a value, or a batch of them, waited for together. Only touched under `state`'s lock
    /// (a reference, so that each of its values' slots in ``State/sent`` and its deadline name it without a
    /// lookup).
    final class Submission {
        /// Names it for its task's cancellation handler.
        let token: UInt64
        /// Its values until they are handed to the node.
        var values: [[UInt8]]
        let count: Int
        let timeout: Duration
        /// Taken by whoever ends the wait (decided, failed, cancelled, timed out, stopped): resumed exactly once.
        var continuation: UnsafeContinuation<Decided, any Error>?
        /// Its first value's id once handed to the node (its values have consecutive sequence numbers).
        var first: SubmissionID?
        /// Of its values, how many the leader has not yet reported decided.
        var undecided = 0

        init(token: UInt64, values: [[UInt8]], timeout: Duration, continuation: UnsafeContinuation<Decided, any Error>) {
            self.token = token
            self.values = values
            self.count = values.count
            self.timeout = timeout
            self.continuation = continuation
        }
    }

    /// The ids of a decided submission: `count` consecutive sequence numbers from `first` (no array per value).
    struct Decided {
        var first: SubmissionID
        var count: Int

        var ids: [SubmissionID] {
            (0..<UInt64(count)).map { SubmissionID(client: first.client, incarnation: first.incarnation, sequence: first.sequence + $0) }
        }
    }

    enum Phase {
        case idle
        case running(NodeRuntime)
        case stopped
    }

    struct State {
        var phase = Phase.idle
        var incarnation: UInt64 = 0
        var nextSequence: UInt64 = 1
        /// Submissions not yet handed to the node, in the order they came.
        var queue: [Submission] = []
        /// The submission of every value handed to the node, by sequence number from `sentBase`; nil once
        /// decided or given up. Decisions come nearly in order, so the front empties as they come; a value not
        /// decided holds the front (and what was sent after it, a pointer each) until its deadline ends it.
        var sent: Deque<Submission?> = []
        var sentBase: UInt64 = 1
        var drainScheduled = false
        /// The deadlines of the submissions handed to the node, one queue per timeout: in each, deadlines come
        /// in the order they were sent, so one look at its front per tick finds every one past its timeout
        /// (replacing a NIO timer per submission).
        var deadlines: [Duration: Deque<(at: NIODeadline, submission: Submission)>] = [:]
        /// What the node heard from a process with other cluster settings, if anything.
        var mismatch: String?

        /// Ends `submission`'s wait, if it still waits: its undecided values' slots are cleared (so a later
        /// report of them finds nothing) and the first of them is returned with its continuation.
        mutating func end(_ submission: Submission) -> (UnsafeContinuation<Decided, any Error>, SubmissionID?)? {
            guard let continuation = submission.continuation else { return nil }
            submission.continuation = nil
            submission.values = []
            var firstUndecided: SubmissionID?
            if let first = submission.first {
                for offset in 0..<UInt64(submission.count) {
                    let sequence = first.sequence + offset
                    guard sequence >= sentBase, Int(sequence - sentBase) < sent.count,
                          sent[Int(sequence - sentBase)] === submission else { continue }
                    sent[Int(sequence - sentBase)] = nil
                    if firstUndecided == nil { firstUndecided = SubmissionID(client: first.client, incarnation: first.incarnation, sequence: sequence) }
                }
                trimSent()
            }
            return (continuation, firstUndecided)
        }

        mutating func trimSent() {
            while let front = sent.first, front == nil {
                sent.removeFirst()
                sentBase += 1
            }
        }
    }

    private let state = Mutex(State())
    /// The last submission's token.
    private let tokens = Atomic<UInt64>(0)

    public init(id: UInt32, configuration: PaxosConfiguration, defaultTimeout: Duration = .seconds(30)) {
        self.id = id
        self.configuration = configuration
        self.defaultTimeout = defaultTimeout
    }

    /// The largest value ``submit(_:timeout:)`` accepts, in bytes (``PaxosConfiguration/maximumValueBytes``).
    public var maximumValueBytes: Int { configuration.maximumValueBytes }

    /// Runs the client until its task is cancelled or its `ServiceGroup` shuts down gracefully. Submissions
    /// made before it starts wait for it; those still waiting when it stops throw ``PaxosError/clientNotRunning``.
    /// It may run again afterwards (as a new incarnation: values are numbered afresh).
    public func run() async throws {
        let startup = try configuration.startup(.client, id)
        defer { stopped() }
        try await NodeHost.run(startup, configuration: configuration, stopping: { [self] in
            // No submitter may reach the node's loop once it shuts down.
            state.withLock { $0.phase = .stopped }
        }) { [self] runtime, _ in
            let inner = startup.clientNode(runtime: runtime, notified: { [self] in noticed($0) })
            inner.onDecided = { [self] ids in decided(ids) }
            let node = EmbeddedClientNode(inner: inner, owner: self)
            started(runtime, incarnation: inner.client.incarnation)
            return AssembledNode(node: node)
        }
    }

    /// Submits `value` and returns once the cluster decided it, with the id it was submitted under.
    ///
    /// The position at which learners deliver it is not known here (the leader reports decisions by id, and
    /// a learner numbers the values it delivers); an application that needs it finds its value in its
    /// learner's ``Learner/deliveries(after:)``.
    ///
    /// - Parameters:
    ///   - value: the bytes to broadcast, at most ``maximumValueBytes``.
    ///   - timeout: how long to wait once the value is sent (``defaultTimeout`` if nil).
    /// - Throws: ``PaxosError/valueTooLarge(size:limit:)`` (nothing sent);
    ///   ``PaxosError/noQuorumReachable(_:)`` or ``PaxosError/configurationMismatch(_:_:)`` when the timeout
    ///   passes; ``PaxosError/cancelled(_:)`` when the task is cancelled; ``PaxosError/clientNotRunning``.
    ///   A value whose wait ended with an id may still be decided later: the client keeps it until then.
    @discardableResult
    public func submit(_ value: [UInt8], timeout: Duration? = nil) async throws(PaxosError) -> SubmissionID {
        let limit = maximumValueBytes
        if value.count > limit { throw .valueTooLarge(size: value.count, limit: limit) }
        return try await wait(for: [value], timeout: timeout).first
    }

    /// Submits the UTF-8 bytes of `value` (see ``submit(_:timeout:)``).
    @discardableResult
    public func submit(_ value: String, timeout: Duration? = nil) async throws(PaxosError) -> SubmissionID {
        try await submit(Array(value.utf8), timeout: timeout)
    }

    /// Submits `values` together, in this order, and returns once the cluster decided every one of them, with
    /// their ids in the same order.
    ///
    /// One wait for the lot: an application with many values at hand (a log shipper, a bulk import) pays for
    /// one suspension, one lock and one deadline per call instead of per value, as the `paxos client`
    /// process does for the lines of one read. Learners deliver them in the order given, though values from
    /// other submissions may come between them. The window (`client-window`) applies per value: a batch larger
    /// than it is sent a window at a time.
    ///
    /// - Throws: as ``submit(_:timeout:)``; ``PaxosError/valueTooLarge(size:limit:)`` for the first value
    ///   over the limit (then nothing is sent). An error after the values were sent names the first one
    ///   not yet reported decided; those before it are decided, it and those after it may still be.
    @discardableResult
    public func submit(contentsOf values: [[UInt8]], timeout: Duration? = nil) async throws(PaxosError) -> [SubmissionID] {
        let limit = maximumValueBytes
        if let tooLarge = values.first(where: { $0.count > limit }) {
            throw .valueTooLarge(size: tooLarge.count, limit: limit)
        }
        guard !values.isEmpty else { return [] }
        return try await wait(for: values, timeout: timeout).ids
    }

    /// Queues `values` (not empty, none too large) as one submission and waits for its end.
    private func wait(for values: [[UInt8]], timeout: Duration?) async throws(PaxosError) -> Decided {
        let timeout = timeout ?? defaultTimeout
        let token = tokens.wrappingAdd(1, ordering: .relaxed).newValue
        do {
            return try await withTaskCancellationHandler {
                // Unsafe (no checking allocation per value): the continuation is resumed by whoever takes it
                // out of its submission under the lock, or here when it is refused, so exactly once.
                try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Decided, any Error>) in
                    let (runtime, refusal) = state.withLock { s -> (NodeRuntime?, PaxosError?) in
                        // Checked under the lock the cancellation handler takes: cancelled either before (seen
                        // here) or after the submission is queued (then the handler finds it).
                        if Task.isCancelled { return (nil, .cancelled(nil)) }
                        if case .stopped = s.phase { return (nil, .clientNotRunning) }
                        s.queue.append(Submission(token: token, values: values, timeout: timeout, continuation: continuation))
                        guard case .running(let runtime) = s.phase, !s.drainScheduled else { return (nil, nil) }
                        s.drainScheduled = true
                        return (runtime, nil)
                    }
                    if let refusal { continuation.resume(throwing: refusal) }
                    runtime?.withNode { node in (node as? EmbeddedClientNode)?.drain() }
                }
            } onCancel: {
                fail(token) { id in .cancelled(id) }
            }
        } catch let error as PaxosError {
            throw error
        } catch {
            throw .cancelled(nil)
        }
    }

    // MARK: on the node's loop

    private func started(_ runtime: NodeRuntime, incarnation: UInt64) {
        let orphaned = state.withLock { s in
            // Values another run handed to its node (a second `run()` while one runs) would be found by
            // nothing once `sent` is cleared: their waits end here instead of never.
            var orphaned: [UnsafeContinuation<Decided, any Error>] = []
            for case let submission? in s.sent { if let (c, _) = s.end(submission) { orphaned.append(c) } }
            s.phase = .running(runtime)
            s.incarnation = incarnation
            s.nextSequence = 1
            s.sent = []
            s.sentBase = 1
            s.deadlines = [:]
            s.mismatch = nil
            // What waits is handed over on the node's first tick.
            s.drainScheduled = false
            return orphaned
        }
        for c in orphaned { c.resume(throwing: PaxosError.clientNotRunning) }
    }

    private func stopped() {
        let waiting = state.withLock { s in
            s.phase = .stopped
            var waiting: [UnsafeContinuation<Decided, any Error>] = []
            for submission in s.queue { if let (c, _) = s.end(submission) { waiting.append(c) } }
            for case let submission? in s.sent { if let (c, _) = s.end(submission) { waiting.append(c) } }
            s.queue = []
            s.sent = []
            s.deadlines = [:]
            s.drainScheduled = false
            return waiting
        }
        for c in waiting { c.resume(throwing: PaxosError.clientNotRunning) }
    }

    /// The values waiting to be sent, numbered as the node will number them; their deadlines start now.
    fileprivate func takeQueue() -> [[UInt8]] {
        state.withLock { s in
            s.drainScheduled = false
            guard !s.queue.isEmpty else { return [] }
            let now = NIODeadline.now()
            var values: [[UInt8]] = []
            for submission in s.queue {
                // Cancelled before it was sent: never sent.
                guard submission.continuation != nil else { continue }
                submission.first = SubmissionID(client: id, incarnation: s.incarnation, sequence: s.nextSequence)
                s.nextSequence += UInt64(submission.count)
                submission.undecided = submission.count
                for _ in 0..<submission.count { s.sent.append(submission) }
                s.deadlines[submission.timeout, default: []].append((now + TimeAmount(submission.timeout), submission))
                values.append(contentsOf: submission.values)
                submission.values = []
            }
            s.queue.removeAll(keepingCapacity: true)
            return values
        }
    }

    /// Fails the values whose timeout passed (on the node's loop, every tick).
    fileprivate func expire(now: NIODeadline) {
        let expired = state.withLock { s -> [(UnsafeContinuation<Decided, any Error>, SubmissionID?)] in
            var expired: [(UnsafeContinuation<Decided, any Error>, SubmissionID?)] = []
            for timeout in Array(s.deadlines.keys) {
                var queue = s.deadlines.removeValue(forKey: timeout)!
                while let front = queue.first, front.submission.continuation == nil || front.at <= now {
                    queue.removeFirst()
                    if let ended = s.end(front.submission) { expired.append(ended) }
                }
                if !queue.isEmpty { s.deadlines[timeout] = queue }
            }
            return expired
        }
        guard !expired.isEmpty else { return }
        let mismatch = state.withLock { $0.mismatch }
        for (c, id) in expired {
            let error: PaxosError = id.map { id in mismatch.map { .configurationMismatch($0, id) } ?? .noQuorumReachable(id) } ?? .clientNotRunning
            c.resume(throwing: error)
        }
    }

    private func decided(_ ids: [SubmissionID]) {
        let done = state.withLock { s -> [(UnsafeContinuation<Decided, any Error>, Decided)] in
            var done: [(UnsafeContinuation<Decided, any Error>, Decided)] = []
            for id in ids {
                guard id.sequence >= s.sentBase, Int(id.sequence - s.sentBase) < s.sent.count,
                      let submission = s.sent[Int(id.sequence - s.sentBase)] else { continue }
                // Counted once: the slot is empty now.
                s.sent[Int(id.sequence - s.sentBase)] = nil
                submission.undecided -= 1
                if submission.undecided == 0, let first = submission.first, let c = submission.continuation {
                    submission.continuation = nil
                    done.append((c, Decided(first: first, count: submission.count)))
                }
            }
            s.trimSent()
            return done
        }
        for (c, ids) in done { c.resume(returning: ids) }
    }

    private func fail(_ token: UInt64, _ error: (SubmissionID?) -> PaxosError) {
        // Rare (a cancellation): a look through what waits rather than an index kept for every submission.
        let found = state.withLock { s -> (UnsafeContinuation<Decided, any Error>, SubmissionID?)? in
            if let submission = s.queue.first(where: { $0.token == token }) ?? s.sent.first(where: { $0?.token == token }) ?? nil {
                return s.end(submission)
            }
            return nil
        }
        guard let (c, id) = found else { return }
        c.resume(throwing: error(id))
    }

    private func noticed(_ notice: NodeNotice) {
        guard case .foreignCluster(let sender, let theirs, let ours) = notice else { return }
        state.withLock { s in
            s.mismatch = "heard only \(sender.role) \(sender.id) of another cluster configuration: it runs with \(theirs), this client with \(ours); every process of a cluster needs the same acceptor-count and learner-count"
        }
    }
}

/// The shells' client node, fed by the application's submitters: what they submitted is handed to it on its
/// loop, at once when a submitter asks (``NodeRuntime/withNode(_:)``) and at every tick besides.
final class EmbeddedClientNode: Node {
    let inner: ClientNode
    let owner: Client

    init(inner: ClientNode, owner: Client) {
        self.inner = inner
        self.owner = owner
    }

    func drain() {
        let values = owner.takeQueue()
        guard !values.isEmpty else { return }
        inner.submit(values)
    }

    var counters: NodeCounters { inner.counters }
    func receive(_ datagram: [UInt8]) { inner.receive(datagram) }
    func tick(now: UInt64) {
        drain()
        owner.expire(now: .now())
        inner.tick(now: now)
    }
    func endOfBurst() throws { try inner.endOfBurst() }
    var progress: NodeProgress { inner.progress }
    var logger: Logger? {
        get { inner.logger }
        set { inner.logger = newValue }
    }
}
