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
/// An application that makes values one at a time and need not wait for each decision hands them over through
/// ``withSubmissions(timeout:capacity:_:outcomes:)`` instead: no wait per value, outcomes read in order.
///
/// Its id shares one namespace with the `paxos client` processes of the cluster: two clients running at once
/// never share one (the older one would stop).
public final class Client: Service, Sendable {
    public let id: UInt32
    public let configuration: PaxosConfiguration
    /// How long ``submit(_:timeout:)`` waits for a decision unless told otherwise.
    public let defaultTimeout: Duration

    /// A waiting submission's continuation: resumed exactly once, by whoever takes it out of the client's
    /// tables under their lock (or by the submitter itself when the submission is refused).
    typealias Waiter = UnsafeContinuation<Decided, any Error>

    /// What a submitter hands over: one value (no array around it), or a batch.
    enum Values {
        case one([UInt8])
        case many([[UInt8]])

        var count: Int {
            switch self {
            case .one: 1
            case .many(let values): values.count
            }
        }
    }

    /// A submission not yet handed to the node.
    struct Pending {
        var values: Values
        /// Names it for its task's cancellation handler.
        var token: UInt64
        var timeout: Duration
        var waiter: Waiter
    }

    /// A batch handed to the node (``submit(contentsOf:timeout:)``): its values' slots in ``Table/sent`` and
    /// its deadline name it, so a decision counts down without a lookup. A single value needs no object: its
    /// slot holds its waiter.
    final class Batch {
        let token: UInt64
        let first: SubmissionID
        let count: Int
        var waiter: Waiter?
        /// Of its values, how many the leader has not yet reported decided.
        var undecided: Int
        /// No value of it before this sequence number waits (its deadline's look for the first undecided one
        /// starts here, so a batch is walked once however many ticks it waits).
        var cursor: UInt64

        init(token: UInt64, first: SubmissionID, count: Int, waiter: Waiter) {
            self.token = token
            self.first = first
            self.count = count
            self.waiter = waiter
            undecided = count
            cursor = first.sequence
        }
    }

    /// What waits on one value handed to the node.
    enum Slot {
        /// Decided, or its wait ended.
        case empty
        case one(token: UInt64, waiter: Waiter)
        case batch(Batch)
        /// A value of a ``Submissions`` stream, at this position in it.
        case stream(Submissions, UInt64)
    }

    /// A wait ended (a timeout, a cancellation): whom to tell.
    enum Ended {
        case waiter(Waiter, SubmissionID?)
        case stream(Submissions, position: UInt64, SubmissionID)
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

    /// Where submitters leave their values: the only lock they take, held for an append. The node's loop
    /// takes the whole queue at once (swapping arrays, so neither side allocates per value).
    struct Inbox {
        var phase = Phase.idle
        var pending: [Pending] = []
        /// Streams with values waiting to be handed to the node (each once, however many values it holds).
        var streams: [Submissions] = []
        /// Every open stream (``withSubmissions(timeout:capacity:_:outcomes:)``), told when the client stops.
        var sessions: [ObjectIdentifier: Submissions] = [:]
        var drainScheduled = false
        /// Whether a `run()` is under way (it claims the client before it starts, releases it after it stopped).
        var runClaimed = false
    }

    /// The submissions handed to the node: touched on the node's loop, and by a cancellation or a stop (rare),
    /// so its lock is not one the submitters contend for. Lock order: `table`, then `inbox`.
    struct Table {
        var client: UInt32 = 0
        var incarnation: UInt64 = 0
        var nextSequence: UInt64 = 1
        /// The wait of every value handed to the node, by sequence number from `sentBase`. Decisions come
        /// nearly in order, so the front empties as they come; a value not decided holds the front (and what
        /// was handed over after it, a slot each, decided or not) until its deadline ends it.
        ///
        /// Not an unbounded growth behind a value that is never decided. Slots behind the front are emptied
        /// (decided) while the front waits only if the front was sent: values are sent in order, so behind an
        /// unsent front every slot is a value still waiting with its submitter. A sent front's wait ends at its
        /// deadline, `timeout` after it was sent (``deadline(_:timeout:)``), and the front moves on: the empty
        /// slots it holds are at most what the cluster decided in one timeout. The node resends an undecided
        /// value every few ticks once a later one of its own is decided (`fastRetryTicks`), and a leader that
        /// gets a value again after its report was lost decides and reports it again (learners deliver it once),
        /// so in a working cluster the front is decided within a retry or two. The bound is reached only if the
        /// cluster decides everything else for a whole timeout while it ignores one value: at about 200,000
        /// values a second, 6 million slots of 16 bytes (96 MB, twice that at worst in the deque's capacity) for
        /// the default 30 s, proportionally more for a longer timeout.
        var sent: Deque<Slot> = []
        var sentBase: UInt64 = 1
        /// The node's sends, as it reported them at the end of each burst: the values through `through` had
        /// been sent by `at` (values are sent in order, each when it enters the client window). Entries wholly
        /// below `sentBase` are dropped, so it holds one per burst that sent, since the oldest value waiting.
        var sends: Deque<(through: UInt64, at: NIODeadline)> = []
        /// The last value sent, and when (nil: none yet in this run).
        var sentThrough: UInt64 = 0
        var lastSend: NIODeadline?
        /// The deadlines of the submissions handed to the node, one queue per timeout (nearly always one): in
        /// each, submissions come in the order they were handed over, which is the order their values are sent
        /// and the order their deadlines fall (``deadline(_:timeout:)``), so one look at its front per tick finds
        /// every one past its timeout. A single value's entry names its sequence number, a batch's its object.
        var deadlines: [(timeout: Duration, queue: Deque<Deadline>)] = []
        /// Where each timeout's queue is in `deadlines` (an application may give every call its own timeout).
        var deadlineQueues: [Duration: Int] = [:]
        /// What the node heard from a process with other cluster settings, if anything.
        var mismatch: String?
        /// The arrays the inbox's next swap hands back (their capacity kept between drains).
        var spare: [Pending] = []
        var spareStreams: [Submissions] = []

        struct Deadline {
            /// When the submission was handed to the node.
            var handedOver: NIODeadline
            var sequence: UInt64
            var batch: Batch?
        }

        /// When the submission of `d` times out, or nil if it no longer waits. A value sent has `timeout` from
        /// its (first) sending to be decided; one still waiting behind the client window has `timeout` from its
        /// hand-over or from the node's last send, whichever came later, so it times out only when the window
        /// stopped moving (a stuck cluster), never for queueing behind a window that moves. A batch's deadline is
        /// that of its first value not yet decided.
        func deadline(_ d: Deadline, timeout: Duration) -> NIODeadline? {
            let sequence: UInt64
            if let batch = d.batch {
                guard batch.waiter != nil else { return nil }
                let end = batch.first.sequence + UInt64(batch.count)
                var next = max(batch.cursor, sentBase)
                while next < end, !holds(next, batch) { next += 1 }
                batch.cursor = next
                guard next < end else { return nil }
                sequence = next
            } else {
                guard d.sequence >= sentBase, Int(d.sequence - sentBase) < sent.count else { return nil }
                switch sent[Int(d.sequence - sentBase)] {
                case .one, .stream: break
                case .empty, .batch: return nil
                }
                sequence = d.sequence
            }
            return (sentAt(sequence) ?? max(d.handedOver, lastSend ?? d.handedOver)) + TimeAmount(timeout)
        }

        /// Whether `sequence`'s slot still waits for `batch`.
        func holds(_ sequence: UInt64, _ batch: Batch) -> Bool {
            guard sequence >= sentBase, Int(sequence - sentBase) < sent.count,
                  case .batch(let b) = sent[Int(sequence - sentBase)] else { return false }
            return b === batch
        }

        /// When the node first sent `sequence`, or nil if it has not yet.
        func sentAt(_ sequence: UInt64) -> NIODeadline? {
            guard sequence <= sentThrough else { return nil }
            // The first report that covers it (reports are in order of `through`).
            var low = 0, high = sends.count
            while low < high {
                let middle = (low + high) / 2
                if sends[middle].through < sequence { low = middle + 1 } else { high = middle }
            }
            return low < sends.count ? sends[low].at : lastSend
        }

        /// The node sent every value through `through` by `now`.
        mutating func noteSent(through: UInt64, now: NIODeadline) {
            guard through > sentThrough else { return }
            sentThrough = through
            lastSend = now
            sends.append((through, now))
            trimSends()
        }

        /// The index in `deadlines` of the queue of `timeout`, made if there is none.
        mutating func deadlineQueue(for timeout: Duration) -> Int {
            if let index = deadlineQueues[timeout] { return index }
            deadlines.append((timeout, []))
            deadlineQueues[timeout] = deadlines.count - 1
            return deadlines.count - 1
        }

        mutating func trimSends() {
            while let first = sends.first, first.through < sentBase { sends.removeFirst() }
        }

        /// Ends the wait of the submission whose (first) value has `sequence` (or of `batch`), if it still
        /// waits: its undecided values' slots are cleared (so a later report of them finds nothing) and the
        /// first of them is returned with its waiter.
        mutating func end(sequence: UInt64, batch: Batch?) -> Ended? {
            if let batch {
                guard let waiter = batch.waiter else { return nil }
                batch.waiter = nil
                var firstUndecided: SubmissionID?
                for offset in 0..<UInt64(batch.count) {
                    let sequence = batch.first.sequence + offset
                    guard sequence >= sentBase, Int(sequence - sentBase) < sent.count,
                          case .batch(let b) = sent[Int(sequence - sentBase)], b === batch else { continue }
                    sent[Int(sequence - sentBase)] = .empty
                    if firstUndecided == nil { firstUndecided = id(sequence) }
                }
                trimSent()
                return .waiter(waiter, firstUndecided)
            }
            guard sequence >= sentBase, Int(sequence - sentBase) < sent.count else { return nil }
            let ended: Ended
            switch sent[Int(sequence - sentBase)] {
            case .one(_, let waiter): ended = .waiter(waiter, id(sequence))
            case .stream(let stream, let position): ended = .stream(stream, position: position, id(sequence))
            case .empty, .batch: return nil
            }
            sent[Int(sequence - sentBase)] = .empty
            trimSent()
            return ended
        }

        /// Every wait of a value handed to the node, ended (the node stopped, or another run replaced it). The
        /// streams' values are told by their streams (``Submissions/clientStopped()``).
        mutating func endAll() -> [Waiter] {
            var waiters: [Waiter] = []
            for slot in sent {
                switch slot {
                case .empty, .stream: break
                case .one(_, let waiter): waiters.append(waiter)
                case .batch(let batch):
                    if let waiter = batch.waiter { waiters.append(waiter) }
                    batch.waiter = nil
                }
            }
            sent = []
            sends = []
            deadlines = []
            deadlineQueues = [:]
            return waiters
        }

        func id(_ sequence: UInt64) -> SubmissionID {
            SubmissionID(client: client, incarnation: incarnation, sequence: sequence)
        }

        mutating func trimSent() {
            let base = sentBase
            while let front = sent.first, case .empty = front {
                sent.removeFirst()
                sentBase += 1
            }
            if sentBase != base { trimSends() }
        }
    }

    /// Internal, not private, for the tests that drive the tables by hand.
    let inbox = Mutex(Inbox())
    let table = Mutex(Table())
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
    /// It may run again afterwards (as a new incarnation: values are numbered afresh); one run at a time: a second
    /// `run()` while one runs throws ``PaxosError/startFailed(_:)`` and leaves the first running.
    public func run() async throws {
        // One run at a time: a second one would fail on the state folder's lock, and its stop would end the
        // running one's submissions and refuse every later submit.
        let claimed = inbox.withLock { s in
            if s.runClaimed { return false }
            s.runClaimed = true
            return true
        }
        guard claimed else { throw PaxosError.startFailed("client \(id) is already running") }
        defer { inbox.withLock { $0.runClaimed = false } }
        let startup = try configuration.startup(.client, id)
        defer { stopped() }
        try await NodeHost.run(startup, configuration: configuration, stopping: { [self] in
            // No submitter may reach the node's loop once it shuts down.
            inbox.withLock { $0.phase = .stopped }
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
    /// The timeout bounds how long the cluster takes to decide the value once it was sent, not how long it
    /// waits to be sent: values are sent in the order submitted, at most the cluster's `client-window` undecided
    /// at once, and one that waits behind a full window has its time counted from when it was handed to the
    /// node or from the node's last send, whichever is later. So a value queued behind a window that keeps
    /// moving (a large ``submit(contentsOf:timeout:)`` batch, many concurrent submitters) does not time out for
    /// queueing, while with a cluster that decides nothing every submission times out: what was sent `timeout`
    /// after it was sent, what waits behind it `timeout` after the window stopped moving (or its hand-over).
    /// The deadlines are checked every tick of the cluster's configuration (`tick-ms`).
    ///
    /// - Parameters:
    ///   - value: the bytes to broadcast, at most ``maximumValueBytes``.
    ///   - timeout: how long the cluster may take to decide the value once it was sent (``defaultTimeout`` if nil).
    /// - Throws: ``PaxosError/valueTooLarge(size:limit:)`` (nothing sent);
    ///   ``PaxosError/noQuorumReachable(_:)`` or ``PaxosError/configurationMismatch(_:_:)`` when the timeout
    ///   passes; ``PaxosError/cancelled(_:)`` when the task is cancelled before the value is reported decided;
    ///   ``PaxosError/clientNotRunning`` when the client does not run or stops first.
    ///   An error ends the wait, not the value: one that carries an id (a timeout, a cancellation after the
    ///   value was handed to the client's node) means the node keeps sending the value until it is decided or
    ///   the client stops, so it may still be decided (learners then deliver it once, and the id tells it apart);
    ///   ``PaxosError/cancelled(_:)`` without an id means it was never handed over and is never sent.
    @discardableResult
    nonisolated(nonsending)
    public func submit(_ value: [UInt8], timeout: Duration? = nil) async throws(PaxosError) -> SubmissionID {
        let limit = maximumValueBytes
        if value.count > limit { throw .valueTooLarge(size: value.count, limit: limit) }
        return try await wait(for: .one(value), timeout: timeout).first
    }

    /// Submits the UTF-8 bytes of `value` (see ``submit(_:timeout:)``).
    @discardableResult
    nonisolated(nonsending)
    public func submit(_ value: String, timeout: Duration? = nil) async throws(PaxosError) -> SubmissionID {
        try await submit(Array(value.utf8), timeout: timeout)
    }

    /// Submits `values` together, in this order, and returns once the cluster decided every one of them, with
    /// their ids in the same order.
    ///
    /// One wait for the lot: an application with many values at hand (a log shipper, a bulk import) pays for
    /// one suspension, one lock and one deadline per call instead of per value, as the `paxos client`
    /// process does for the lines of one read. Learners deliver them in the order given unless a datagram is
    /// lost (a value resent after a loss may be decided after later ones), and values from other submissions
    /// may come between them. The window (`client-window`) applies per value: a batch larger
    /// than it is sent a window at a time, and `timeout` applies to each value from when it is sent (see
    /// ``submit(_:timeout:)``), so a batch of any size succeeds as long as the cluster decides each window in
    /// time; it fails when one of its values sent is not decided within `timeout`, or when the window stops
    /// moving for `timeout`.
    ///
    /// - Throws: as ``submit(_:timeout:)``; ``PaxosError/valueTooLarge(size:limit:)`` for the first value
    ///   over the limit (then nothing is sent). An error with an id names the batch's first value not yet
    ///   reported decided; those before it are decided, it and those after it may still be.
    @discardableResult
    nonisolated(nonsending)
    public func submit(contentsOf values: [[UInt8]], timeout: Duration? = nil) async throws(PaxosError) -> [SubmissionID] {
        let limit = maximumValueBytes
        if let tooLarge = values.first(where: { $0.count > limit }) {
            throw .valueTooLarge(size: tooLarge.count, limit: limit)
        }
        guard !values.isEmpty else { return [] }
        return try await wait(for: .many(values), timeout: timeout).ids
    }

    /// Queues `values` (not empty, none too large) as one submission and waits for its end.
    ///
    /// Runs on its caller's executor (`nonisolated(nonsending)`): a submitter on an actor stays on it, and one
    /// on the global executor makes no hop to it and back per value.
    nonisolated(nonsending)
    private func wait(for values: Values, timeout: Duration?) async throws(PaxosError) -> Decided {
        let timeout = timeout ?? defaultTimeout
        let token = tokens.wrappingAdd(1, ordering: .relaxed).newValue
        do {
            return try await withTaskCancellationHandler {
                // Unsafe (no checking allocation per value): the continuation is resumed by whoever takes it
                // out of the inbox or the table under its lock, or here when it is refused, so exactly once.
                try await withUnsafeThrowingContinuation { (waiter: Waiter) in
                    let (runtime, refusal) = inbox.withLock { s -> (NodeRuntime?, PaxosError?) in
                        // Checked under the lock the cancellation handler takes: cancelled either before (seen
                        // here) or after the submission is queued (then the handler finds it).
                        if Task.isCancelled { return (nil, .cancelled(nil)) }
                        if case .stopped = s.phase { return (nil, .clientNotRunning) }
                        s.pending.append(Pending(values: values, token: token, timeout: timeout, waiter: waiter))
                        // One hand-over per burst of submissions: the loop takes all that came by then.
                        guard !s.drainScheduled, case .running(let runtime) = s.phase else { return (nil, nil) }
                        s.drainScheduled = true
                        return (runtime, nil)
                    }
                    if let refusal { waiter.resume(throwing: refusal) }
                    // Refused once the node's loop shut down or began to (the run is ending, its sockets would not
                    // open): then the run's stop ends what waits in the inbox, this submission with it.
                    runtime?.withNode { node in (node as? EmbeddedClientNode)?.drain() }
                }
            } onCancel: {
                fail(token)
            }
        } catch let error as PaxosError {
            throw error
        } catch {
            throw .cancelled(nil)
        }
    }

    /// Submits values handed over one at a time, and reads their outcomes in the same order, without a wait for
    /// each value's decision: `body` hands values over with ``Submissions/submit(_:)``, which returns at once
    /// unless the stream is full, while `outcomes` reads ``Submissions/Outcomes``, one outcome per value handed
    /// over (its id once decided, or the error that ended its wait), taken in runs.
    ///
    /// ```swift
    /// let decided = try await client.withSubmissions { submissions in
    ///     for try await line in lines { try await submissions.submit(line) }
    /// } outcomes: { outcomes in
    ///     var decided = 0
    ///     for try await outcome in outcomes { _ = try outcome.get(); decided += 1 }
    ///     return decided
    /// }
    /// ```
    ///
    /// For an application that makes values one at a time and need not wait for each decision before the next (a
    /// log shipper, an event stream, a request handler that answers later): ``submit(_:timeout:)`` costs a task
    /// suspension and resumption per value; here a steady stream costs neither side a suspension per value, and
    /// the values share datagrams as a batch's do. The values are numbered, sent, resent and timed out as
    /// ``submit(_:timeout:)``'s (see there: `timeout` runs from a value's sending, and an error ends its wait,
    /// not the value), in the order handed over: the leader decides them in that order unless a datagram is lost
    /// (a value resent after a loss may be decided after later ones), and learners deliver each once, in the
    /// order decided. Their outcomes come in the order handed over whatever the order of the decisions.
    /// Values handed over before the client runs wait for it in the stream (up to `capacity`), as `submit`'s do.
    ///
    /// `body` runs in a child task and `outcomes` in this one, concurrently. When `body` returns, no more values
    /// come, and the outcomes end once each value it handed over has its outcome; if `body` throws, the same
    /// (the values it handed over keep their outcomes), then this call throws its error. If `outcomes` throws,
    /// or returns before its sequence ended, the stream closes (values the client's node has not taken yet are
    /// withdrawn, never sent; later `submit` calls throw ``PaxosError/cancelled(_:)``) and `body`'s task is
    /// cancelled; this call then throws `outcomes`' error, or else `body`'s, or returns what `outcomes` returned.
    /// Cancelling this task cancels both: the reader's wait throws ``PaxosError/cancelled(_:)`` naming the first
    /// value whose outcome it did not read (it and those after it that the node took may still be decided).
    /// When the client stops, every value not yet reported gets ``PaxosError/clientNotRunning`` as its
    /// outcome, `submit` throws it, and so does the sequence after the last outcome.
    ///
    /// - Parameters:
    ///   - timeout: how long the cluster may take to decide each value once it was sent (``defaultTimeout`` if
    ///     nil).
    ///   - capacity: how many values may be handed over with their outcome not yet read: `submit` suspends
    ///     beyond it, until the reader brought them down to half of it (``Submissions`` says more). Nil: 4 × the cluster's `client-window` (8,192 by default), as
    ///     far as the `paxos client` process reads ahead; the bytes of those values are bounded to 4 ×
    ///     `client-window`'s 8 MiB besides (a larger value still goes alone).
    ///   - body: hands the values over.
    ///   - outcomes: reads their outcomes; what it returns is returned.
    nonisolated(nonsending)
    public func withSubmissions<Outcome>(
        timeout: Duration? = nil, capacity: Int? = nil,
        _ body: @escaping @Sendable (Submissions) async throws -> Void,
        outcomes read: (Submissions.Outcomes) async throws -> Outcome
    ) async throws -> Outcome {
        let settings = configuration.cluster.settings
        let submissions = Submissions(client: self, timeout: timeout ?? defaultTimeout,
                                      capacity: capacity ?? 4 * settings.clientWindow,
                                      capacityBytes: 4 * settings.clientWindowBytes)
        let key = ObjectIdentifier(submissions)
        let open = inbox.withLock { s -> Bool in
            if case .stopped = s.phase { return false }
            s.sessions[key] = submissions
            return true
        }
        if !open { submissions.clientStopped() }
        defer { inbox.withLock { _ = $0.sessions.removeValue(forKey: key) } }
        return try await withThrowingTaskGroup(of: Void.self) { writer in
            writer.addTask {
                defer { submissions.finish() }
                try await body(submissions)
            }
            let outcome: Outcome
            do {
                outcome = try await read(Submissions.Outcomes(submissions: submissions))
            } catch {
                submissions.readerLeft()
                // Leaving the group by a throw cancels the writer and waits for it.
                throw error
            }
            if submissions.readerLeft() { writer.cancelAll() }
            try await writer.waitForAll()
            return outcome
        }
    }

    /// `stream` holds values for the node: it waits in the inbox (once, however many values it holds) until the
    /// node's loop takes them, which is asked for once per burst as for single submissions.
    func handOver(_ stream: Submissions) {
        let runtime = inbox.withLock { s -> NodeRuntime? in
            // Once stopped, the stop closes the stream (what it holds gets its outcome there).
            if case .stopped = s.phase { return nil }
            s.streams.append(stream)
            guard !s.drainScheduled, case .running(let runtime) = s.phase else { return nil }
            s.drainScheduled = true
            return runtime
        }
        runtime?.withNode { node in (node as? EmbeddedClientNode)?.drain() }
    }

    // MARK: on the node's loop

    private func started(_ runtime: NodeRuntime, incarnation: UInt64) {
        table.withLock { t in
            // A new incarnation: the previous run's stop ended all it had handed over (one run at a time).
            t.client = id
            t.incarnation = incarnation
            t.nextSequence = 1
            t.sentBase = 1
            t.sends = []
            t.sentThrough = 0
            t.lastSend = nil
            t.mismatch = nil
            inbox.withLock { s in
                s.phase = .running(runtime)
                // What waits is handed over on the node's first tick.
                s.drainScheduled = false
            }
        }
    }

    private func stopped() {
        let (waiting, sessions) = table.withLock { t in
            var waiting = t.endAll()
            let sessions = inbox.withLock { s in
                s.phase = .stopped
                waiting.append(contentsOf: s.pending.map(\.waiter))
                s.pending = []
                s.streams = []
                s.drainScheduled = false
                return Array(s.sessions.values)
            }
            return (waiting, sessions)
        }
        for waiter in waiting { waiter.resume(throwing: PaxosError.clientNotRunning) }
        for session in sessions { session.clientStopped() }
    }

    /// The values waiting to be sent, numbered as the node will number them (it sends them in this order as the
    /// client window lets it), handed over `now`.
    func takeQueue(into values: inout [[UInt8]], now: NIODeadline = .now()) {
        table.withLock { t in
            var taken = t.spare
            var streams = t.spareStreams
            inbox.withLock { s in
                s.drainScheduled = false
                swap(&taken, &s.pending)
                swap(&streams, &s.streams)
            }
            defer {
                streams.removeAll(keepingCapacity: true)
                t.spareStreams = streams
            }
            guard !taken.isEmpty || !streams.isEmpty else {
                t.spare = taken
                return
            }
            var timeoutAt = t.deadlines.isEmpty ? -1 : 0
            // Moved out one by one (from the back, so reversed first): no retain of values another thread made.
            taken.reverse()
            while let pending = taken.popLast() {
                let first = t.nextSequence
                let count = pending.values.count
                t.nextSequence += UInt64(count)
                var deadline = Table.Deadline(handedOver: now, sequence: first, batch: nil)
                switch pending.values {
                case .one(let value):
                    t.sent.append(.one(token: pending.token, waiter: pending.waiter))
                    values.append(value)
                case .many(let many):
                    let batch = Batch(token: pending.token, first: t.id(first), count: count, waiter: pending.waiter)
                    for _ in 0..<count { t.sent.append(.batch(batch)) }
                    deadline.batch = batch
                    values.append(contentsOf: many)
                }
                if timeoutAt < 0 || t.deadlines[timeoutAt].timeout != pending.timeout {
                    timeoutAt = t.deadlineQueue(for: pending.timeout)
                }
                t.deadlines[timeoutAt].queue.append(deadline)
            }
            t.spare = taken
            // The streams' values after the single submissions, each stream's in its order: a slot and a deadline
            // each, its waiting outcome kept by the stream.
            for stream in streams {
                let first = t.nextSequence
                let (streamed, position) = stream.takeBuffer(first: t.id(first))
                guard !streamed.isEmpty else { continue }
                t.nextSequence += UInt64(streamed.count)
                if timeoutAt < 0 || t.deadlines[timeoutAt].timeout != stream.timeout {
                    timeoutAt = t.deadlineQueue(for: stream.timeout)
                }
                for offset in 0..<UInt64(streamed.count) {
                    t.sent.append(.stream(stream, position + offset))
                    t.deadlines[timeoutAt].queue.append(Table.Deadline(handedOver: now, sequence: first + offset, batch: nil))
                }
                values.append(contentsOf: streamed)
            }
        }
    }

    /// The node sent every value through `through` (on the node's loop, at the end of a burst that sent).
    func noteSent(through: UInt64, now: NIODeadline = .now()) {
        table.withLock { $0.noteSent(through: through, now: now) }
    }

    /// Fails the values whose timeout passed (on the node's loop, every tick).
    func expire(now: NIODeadline) {
        let (expired, mismatch) = table.withLock { t -> ([Ended], String?) in
            var expired: [Ended] = []
            for index in t.deadlines.indices {
                let timeout = t.deadlines[index].timeout
                while let front = t.deadlines[index].queue.first {
                    if let deadline = t.deadline(front, timeout: timeout), deadline > now { break }
                    t.deadlines[index].queue.removeFirst()
                    if let ended = t.end(sequence: front.sequence, batch: front.batch) { expired.append(ended) }
                }
            }
            if t.deadlines.contains(where: { $0.queue.isEmpty }) {
                t.deadlines.removeAll { $0.queue.isEmpty }
                t.deadlineQueues = Dictionary(uniqueKeysWithValues: t.deadlines.enumerated().map { ($1.timeout, $0) })
            }
            return (expired, t.mismatch)
        }
        func error(_ id: SubmissionID?) -> PaxosError {
            id.map { id in mismatch.map { .configurationMismatch($0, id) } ?? .noQuorumReachable(id) } ?? .clientNotRunning
        }
        for ended in expired {
            switch ended {
            case .waiter(let waiter, let id): waiter.resume(throwing: error(id))
            case .stream(let stream, let position, let id): stream.failed(position, error(id))
            }
        }
    }

    func decided(_ ids: [SubmissionID]) {
        var done: [(Waiter, Decided)] = []
        // The streams' values, a run per stream in the order reported (one lock of the stream per run).
        var streamed: [(Submissions, [(UInt64, SubmissionID)])] = []
        table.withLock { t in
            for id in ids {
                guard id.sequence >= t.sentBase, Int(id.sequence - t.sentBase) < t.sent.count else { continue }
                let index = Int(id.sequence - t.sentBase)
                switch t.sent[index] {
                case .empty:
                    continue
                case .one(_, let waiter):
                    t.sent[index] = .empty
                    done.append((waiter, Decided(first: id, count: 1)))
                case .batch(let batch):
                    // Counted once: the slot is empty now.
                    t.sent[index] = .empty
                    batch.undecided -= 1
                    if batch.undecided == 0, let waiter = batch.waiter {
                        batch.waiter = nil
                        done.append((waiter, Decided(first: batch.first, count: batch.count)))
                    }
                case .stream(let stream, let position):
                    t.sent[index] = .empty
                    if let last = streamed.indices.last, streamed[last].0 === stream {
                        streamed[last].1.append((position, id))
                    } else {
                        streamed.append((stream, [(position, id)]))
                    }
                }
            }
            t.trimSent()
        }
        for (waiter, decided) in done { waiter.resume(returning: decided) }
        for (stream, positions) in streamed { stream.decided(positions) }
    }

    private func fail(_ token: UInt64) {
        // Rare (a cancellation): a look through what waits rather than an index kept for every submission.
        let found = table.withLock { t -> Ended? in
            let queued = inbox.withLock { s -> Waiter? in
                guard let index = s.pending.firstIndex(where: { $0.token == token }) else { return nil }
                return s.pending.remove(at: index).waiter
            }
            // Cancelled before it was handed to the node: never sent.
            if let queued { return .waiter(queued, nil) }
            guard let index = t.sent.firstIndex(where: { slot in
                switch slot {
                case .empty, .stream: false
                case .one(let slotToken, _): slotToken == token
                case .batch(let batch): batch.token == token && batch.waiter != nil
                }
            }) else { return nil }
            switch t.sent[index] {
            case .batch(let batch): return t.end(sequence: batch.first.sequence, batch: batch)
            default: return t.end(sequence: t.sentBase + UInt64(index), batch: nil)
            }
        }
        guard case .waiter(let waiter, let id)? = found else { return }
        waiter.resume(throwing: PaxosError.cancelled(id))
    }

    private func noticed(_ notice: NodeNotice) {
        guard case .foreignCluster(let sender, let theirs, let ours) = notice else { return }
        table.withLock { t in
            t.mismatch = "heard only \(sender.role) \(sender.id) of another cluster configuration: it runs with \(theirs), this client with \(ours); every process of a cluster needs the same acceptor-count and learner-count"
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

    /// Reused between drains, so handing values over allocates nothing per drain once it is large enough.
    private var values: [[UInt8]] = []
    /// The last of the node's sends told to the owner.
    private var sentThrough: UInt64 = 0

    func drain() {
        owner.takeQueue(into: &values)
        guard !values.isEmpty else { return }
        inner.submit(values)
        values.removeAll(keepingCapacity: true)
    }

    var counters: NodeCounters { inner.counters }
    func receive(_ datagram: [UInt8]) { inner.receive(datagram) }
    func tick(now: UInt64) {
        drain()
        owner.expire(now: .now())
        inner.tick(now: now)
    }
    func endOfBurst() throws {
        try inner.endOfBurst()
        // What the burst sent went out just now: the deadlines of those values start here.
        if inner.sentThrough > sentThrough {
            sentThrough = inner.sentThrough
            owner.noteSent(through: sentThrough)
        }
    }
    var progress: NodeProgress { inner.progress }
    var logger: Logger? {
        get { inner.logger }
        set { inner.logger = newValue }
    }
}
