import Logging
import NIOCore
import NIOPosix
import PaxosCore
import PaxosTransport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Why a node stopped; each reason has its own exit status, so a script can tell a full disk from a
/// learner that can never catch up without reading the log.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// SIGTERM or SIGINT (exit 0).
    case signal(Int32)
    /// A client whose values were all decided (exit 0).
    case finished
    /// A client that ran out of time (exit 3).
    case timedOut
    /// Persisting failed (disk full, read-only, a database changed under it): the node stops rather
    /// than answer without it (exit 4).
    case storageFailed(String)
    /// A newer process started with this role and id; two must never share one (exit 5).
    case displaced(String)
    /// A learner that can never catch up: what it misses was forgotten by every acceptor (exit 6).
    case cannotCatchUp(String)

    public var exitCode: Int32 {
        switch self {
        case .signal, .finished: 0
        case .timedOut: 3
        case .storageFailed: 4
        case .displaced: 5
        case .cannotCatchUp: 6
        }
    }

    public var description: String {
        switch self {
        case .signal(let s): "signal \(s)"
        case .finished: "finished"
        case .timedOut: "timed out"
        case .storageFailed(let why), .displaced(let why), .cannotCatchUp(let why): why
        }
    }

    /// The reason a node's failure to end a burst stops it with.
    init(failure error: any Error) {
        switch error {
        case let displaced as Displaced: self = .displaced(displaced.description)
        case let stuck as LearnerNode.CannotCatchUp: self = .cannotCatchUp(stuck.description)
        default: self = .storageFailed("\(error)")
        }
    }
}

/// Runs one node on a single event loop: datagrams and ticks are handled on that loop only, so the
/// node needs no locks. Ends when told to (`stop`, e.g. on SIGTERM), when a client finishes, or on a
/// storage failure.
public final class NodeRuntime: @unchecked Sendable {
    public let config: ClusterConfig
    public let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    public let eventLoop: any EventLoop
    private var node: (any Node)?
    private var transport: MulticastTransport?
    private let stopped: EventLoopPromise<StopReason>
    private var ticker: RepeatedTask?
    private var tickCount: UInt64 = 0
    private var isStopping = false
    /// For the per-burst summary at trace level.
    private var countersAtLastBurst: NodeCounters?
    /// Called on the loop once per tick, after the node's own tick (a client uses it for its timeout).
    public var onTick: ((UInt64) -> Void)?
    /// With a shared key, every datagram sent is tagged and every one received must carry a valid tag.
    public let authenticator: DatagramAuthenticator?
    /// Datagrams refused because their tag was missing or wrong.
    public private(set) var rejected = 0
    /// Called on the loop about once a second, and once more when the node stops.
    public var onStatus: ((StatusReport) -> Void)?
    /// Whether the loop still takes work from other threads (``execute(_:)``, ``withNode(_:)``, ``stop(_:)``).
    /// Cleared under its lock before the loop shuts down, on every path (stopped, sockets that would not open,
    /// never run), and work is queued under the same lock: so a submitter's hand-over or a stop from another
    /// thread is queued on a live loop or refused, never scheduled on a loop that is gone (NIO drops it with
    /// an error line on standard error, or traps in its strict mode).
    private let accepting = Mutex(true)

    /// Stamped on every datagram sent: the cluster's fingerprint and this process's identity.
    public let header: Wire.Header

    public init(config: ClusterConfig, logger: Logger, header: Wire.Header, authenticator: DatagramAuthenticator? = nil) {
        self.config = config
        self.header = header
        self.logger = logger
        self.authenticator = authenticator
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.eventLoop = group.next()
        self.stopped = eventLoop.makePromise(of: StopReason.self)
    }

    /// An outbox that multicasts through this runtime's transport.
    public var outbox: Outbox {
        Outbox(
            send: { [unowned self] out in
                let endpoint = self.config.endpoint(out.group)
                let message = Wire.encode(out.message, header: self.header)
                let to = MulticastEndpoint(group: endpoint.address, port: endpoint.port)
                // A message longer than one datagram (a big value) goes out in fragments.
                for piece in Wire.datagrams(for: message, header: self.header, datagramBytes: self.config.settings.maxDatagramBytes) {
                    self.transport?.send(self.authenticator?.seal(piece) ?? piece, to: to)
                }
            },
            flush: { [unowned self] in self.transport?.flush() })
    }

    /// Opens the sockets of `role`, then runs `node` until it stops. Blocks the calling thread.
    public func run(_ node: any Node, role: Role) throws -> StopReason {
        self.node = node
        let settings = TransportSettings(interface: config.interface, ttl: config.ttl,
                                         maxDatagramBytes: 65_507)
        var groupOf: [MulticastEndpoint: Group] = [:]
        for group in role.listensTo {
            let e = config.endpoint(group)
            // Two groups configured on one address and port share a socket: it counts as the first
            // group listed (a role's own), whose messages are all its own.
            if groupOf[MulticastEndpoint(group: e.address, port: e.port)] == nil {
                groupOf[MulticastEndpoint(group: e.address, port: e.port)] = group
            }
        }
        let endpoints = role.listensTo.map { group -> MulticastEndpoint in
            let e = config.endpoint(group)
            return MulticastEndpoint(group: e.address, port: e.port)
        }
        do {
            transport = try MulticastTransport.start(
                on: eventLoop, listen: endpoints, settings: settings,
                onDatagram: { [unowned self] endpoint, buffer in
                    self.received(Array(buffer.readableBytesView), from: groupOf[endpoint] ?? role.listensTo[0])
                },
                onBurstEnd: { [unowned self] in self.endOfBurst() }
            ).wait()
        } catch {
            // A promise that goes away unfulfilled traps in NIO's debug builds (an embedding application's
            // runtime is freed once this throws).
            stopped.fail(error)
            shutDownLoop()
            throw error
        }
        installSignalHandlers()
        let tick = TimeAmount.milliseconds(Int64(config.tickMilliseconds))
        ticker = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [unowned self] _ in
            self.tickCount += 1
            self.node?.tick(now: self.tickCount)
            self.onTick?(self.tickCount)
            self.endOfBurst()
            if self.tickCount % UInt64(max(1_000 / self.config.tickMilliseconds, 1)) == 0 { self.reportStatus(running: true) }
        }
        // A client may have been handed all its input before the loop started.
        eventLoop.execute { [unowned self] in self.endOfBurst() }
        let reason = try stopped.futureResult.wait()
        try? eventLoop.submit { [unowned self] in self.reportStatus(running: false) }.wait()
        shutdown()
        return reason
    }

    /// Runs `body` on the loop with the node, then ends the burst (used to feed a client's input). Once the
    /// loop shut down (or began to), nothing: returns false.
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        schedule { [unowned self] in
            body()
            self.endOfBurst()
        }
    }

    /// Runs `body` on the loop with the node this runtime runs, then ends the burst; nothing before ``run(_:role:)``
    /// has its node (an embedded client hands its submitters' values to its node so). Returns false, and `body`
    /// never runs, once the loop shut down (or began to): the node stopped, or its sockets would not open.
    @discardableResult
    public func withNode(_ body: @escaping @Sendable (any Node) -> Void) -> Bool {
        schedule { [unowned self] in
            guard let node = self.node else { return }
            body(node)
            self.endOfBurst()
        }
    }

    /// Ends a runtime that never ran (its node could not be assembled): its loop's thread stops. Its stop
    /// promise is completed first (NIO traps on a promise that goes away uncompleted).
    public func discard() {
        stopped.fail(NotRun())
        shutDownLoop()
    }

    private struct NotRun: Error {}

    /// Stops the node (callable from any thread; nothing once the loop shut down).
    public func stop(_ reason: StopReason) {
        schedule { [unowned self] in self.finish(reason) }
    }

    /// Queues `task` on the loop unless it shut down or is shutting down. A task queued runs before the loop's
    /// thread ends, while ``run(_:role:)`` (or ``discard()``) still holds the runtime, so its unowned `self` is
    /// safe.
    @discardableResult
    private func schedule(_ task: @escaping @Sendable () -> Void) -> Bool {
        accepting.withLock { accepting in
            guard accepting else { return false }
            eventLoop.execute(task)
            return true
        }
    }

    /// Refuses work from other threads from now on, then shuts the loop down (from a thread other than the loop's).
    private func shutDownLoop() {
        accepting.withLock { $0 = false }
        try? group.syncShutdownGracefully()
    }

    public var counters: NodeCounters? { node?.counters }
    public var sendErrors: Int { transport?.sendErrors ?? 0 }

    private func reportStatus(running: Bool) {
        guard let node, let onStatus else { return }
        onStatus(StatusReport(running: running, counters: node.counters, rejected: rejected,
                              sendErrors: transport?.sendErrors ?? 0, progress: node.progress))
    }

    private func received(_ datagram: [UInt8], from group: Group) {
        guard let authenticator else {
            node?.receive(datagram, from: group)
            return
        }
        guard let message = authenticator.open(datagram) else {
            rejected += 1
            return
        }
        node?.receive(message, from: group)
    }

    private func endOfBurst() {
        // Until the sockets are open a burst stays in the node: sent now, it would be lost (a client's
        // first values then waited for its retry timer).
        guard let node, !isStopping, transport != nil else { return }
        do {
            try node.endOfBurst()
        } catch {
            finish(StopReason(failure: error))
            return
        }
        if logger.logLevel <= .trace {
            let now = node.counters, then = countersAtLastBurst ?? NodeCounters()
            if now.received != then.received || now.sent != then.sent || now.commits != then.commits {
                logger.trace("burst: \(now.received - then.received) datagrams handled, \(now.commits - then.commits) commits, \(now.sent - then.sent) messages sent")
            }
            countersAtLastBurst = now
        }
        if node.isFinished { finish(.finished) }
    }

    private func finish(_ reason: StopReason) {
        guard !isStopping else { return }
        // What the last burst produced is persisted (or the failure reported) before the sockets close.
        if case .signal = reason, let node {
            do { try node.endOfLastBurst() } catch {
                isStopping = true
                stopped.succeed(StopReason(failure: error))
                return
            }
        }
        isStopping = true
        stopped.succeed(reason)
    }

    /// SIGTERM and SIGINT are the command's to route to `stop(.signal)` (it blocks them from its first
    /// instruction so none is lost while the node starts); a closed pipe must not kill the node.
    private func installSignalHandlers() {
        signal(SIGPIPE, SIG_IGN)
    }

    private func shutdown() {
        ticker?.cancel()
        if let transport {
            try? eventLoop.flatSubmit { transport.close() }.wait()
        }
        node = nil
        shutDownLoop()
    }
}
