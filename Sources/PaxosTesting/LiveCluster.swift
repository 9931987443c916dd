import Foundation
import Logging
import NIOCore
import PaxosCore
import PaxosNode
import PaxosStore

#if canImport(Glibc)
import Glibc
#endif

/// A whole cluster in one process, over real loopback multicast and real SQLite files, without root.
///
/// Every acceptor, proposer, learner and client is the shells' own node (`AcceptorNode`, `ProposerNode`,
/// `LearnerNode`, `ClientNode`) over the real stores, run by its own ``NodeRuntime`` on its own thread,
/// assembled as the `paxos` command assembles it (``NodeStartup`` reads the config and names the process).
/// The cluster gets a random multicast group (239.x.y.z) and four free ports, so two clusters (two tests,
/// two test runs) never hear each other, and a temporary state folder, removed by ``shutdown()``.
/// Learners' deliveries are kept in memory (across restarts); nodes can be stopped, "killed" and restarted
/// from their databases.
///
/// Not done in-process: a lock file per role (the flock of a restarted node would conflict with the one
/// its earlier run in this process still holds), signal handling and status files (one process, many nodes).
public final class LiveCluster: @unchecked Sendable {
    public struct Options: Sendable {
        public var acceptors: Int
        public var proposers: Int
        public var learners: Int
        /// The cluster's shared key (the config's `key` line): every datagram is tagged, untagged ones rejected.
        public var key: String?
        /// More config lines, e.g. `tick-ms 5` or `synchronous normal`.
        public var configLines: [String]
        /// The nodes' log level on standard error.
        public var logLevel: Logger.Level
        /// Nodes whose SQLite file lives elsewhere than in ``LiveCluster/directory`` (e.g. on a small file
        /// system a test fills up); the folder must exist and is not removed by ``LiveCluster/shutdown(keepFolder:)``.
        public var stateFolders: [NodeID: String]
        /// Sees every message a node hands to its transport, on the node's loop, just before it is sent.
        public var onSend: (@Sendable (NodeID, Outgoing) -> Void)?

        public init(acceptors: Int = 3, proposers: Int = 2, learners: Int = 2, key: String? = nil,
                    configLines: [String] = [], logLevel: Logger.Level = .error,
                    stateFolders: [NodeID: String] = [:], onSend: (@Sendable (NodeID, Outgoing) -> Void)? = nil) {
            self.acceptors = acceptors
            self.proposers = proposers
            self.learners = learners
            self.key = key
            self.configLines = configLines
            self.logLevel = logLevel
            self.stateFolders = stateFolders
            self.onSend = onSend
        }
    }

    /// A node of the cluster: its role and id.
    public struct NodeID: Hashable, Sendable, CustomStringConvertible {
        public var role: Role
        public var id: UInt32
        public init(_ role: Role, _ id: UInt32) {
            self.role = role
            self.id = id
        }
        public var description: String { "\(role) \(id)" }
    }

    /// What a node's counters showed, read on its loop.
    public struct Snapshot: Sendable {
        public var counters: NodeCounters
        /// Datagrams refused for a missing or wrong tag.
        public var rejected: Int
        public var sendErrors: Int
        public var progress: NodeProgress
    }

    public enum Failure: Error, CustomStringConvertible {
        case alreadyRunning(NodeID)
        public var description: String {
            switch self {
            case .alreadyRunning(let n): "\(n) is already running"
            }
        }
    }

    public let options: Options
    /// The temporary folder: the config file and the SQLite files.
    public let directory: String
    public let configPath: String
    public let config: ClusterConfig

    /// A node, its runtime and its store's closing, handed to the node's thread; its node is touched only
    /// on the runtime's loop.
    private final class Running: @unchecked Sendable {
        let role: Role
        let runtime: NodeRuntime
        let node: any Node
        let close: () -> Void
        let done = DispatchSemaphore(value: 0)
        var reason: Result<StopReason, any Error>?
        init(role: Role, runtime: NodeRuntime, node: any Node, close: @escaping () -> Void) {
            self.role = role
            self.runtime = runtime
            self.node = node
            self.close = close
        }
    }

    /// Hands a loop-confined value to a closure that runs on that loop.
    private struct OnLoop<T>: @unchecked Sendable { let value: T }

    private let lock = NSLock()
    private var running: [NodeID: Running] = [:]
    /// The last way each node stopped.
    private var stops: [NodeID: Result<StopReason, any Error>] = [:]
    private var outputs: [UInt32: [Submission]] = [:]
    private var harnessProblems: [String] = []
    private var isShutDown = false

    /// Writes the config (a random group, four free ports) into a new temporary folder; starts nothing.
    public init(_ options: Options = Options()) throws {
        self.options = options
        var template = Array("\(NSTemporaryDirectory())/paxos-live.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartupError("cannot create a temporary folder") }
        directory = String(cString: made)
        configPath = directory + "/paxos.conf"
        do {
            // A random group and four free ports, written out as the course's lines.
            let loopback = try ClusterConfig.privateLoopback()
            var lines = Group.allCases.map { "\($0) \(loopback.endpoint($0).address) \(loopback.endpoint($0).port)" }
            lines.append("acceptor-count \(options.acceptors)")
            lines.append("learner-count \(options.learners)")
            if let key = options.key { lines.append("key \(key)") }
            lines += options.configLines
            try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
            config = try NodeStartup.readConfig(configPath)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    deinit { shutdown() }

    /// Every acceptor, learner and proposer, in that order.
    public func start() throws {
        for a in 0..<options.acceptors { try start(.acceptor, UInt32(a + 1)) }
        for l in 0..<options.learners { try start(.learner, UInt32(l + 1)) }
        for p in 0..<options.proposers { try start(.proposer, UInt32(p + 1)) }
    }

    /// Starts (or restarts, from its database) one acceptor, proposer or learner.
    public func start(_ role: Role, _ id: UInt32) throws {
        precondition(role != .client, "clients start with submit(client:values:)")
        try launch(NodeID(role, id)) { startup, _, outbox, path in
            switch role {
            case .acceptor:
                let store = try AcceptorStore(path: path, synchronous: startup.config.synchronous)
                let state = try store.load()
                let acceptor = Paxos.Acceptor(id: id, settings: startup.config.settings, restoring: state,
                                              seed: UInt64.random(in: .min ... .max))
                return (AcceptorNode(acceptor: acceptor, store: store, outbox: outbox,
                                     admission: startup.admission, notify: startup.notify), store.close)
            case .proposer:
                let store = try ProposerStore(path: path, synchronous: .full)
                let state = try store.load()
                let proposer = Paxos.Proposer(id: id, settings: startup.config.settings, restoring: state,
                                              seed: UInt64.random(in: .min ... .max), incarnation: startup.me.incarnation)
                return (ProposerNode(proposer: proposer, store: store, outbox: outbox,
                                     admission: startup.admission, notify: startup.notify), store.close)
            case .learner:
                let store = try LearnerStore(path: path, synchronous: startup.config.synchronous)
                let state = try store.load()
                self.resumeOutput(learner: id, nextPosition: state.nextPosition)
                let learner = Paxos.Learner(id: id, settings: startup.config.settings, restoring: state)
                let node = LearnerNode(learner: learner, store: store, outbox: outbox,
                                       output: { [weak self] in self?.record(learner: id, $0) },
                                       admission: startup.admission, notify: startup.notify)
                return (node, store.close)
            case .client:
                fatalError("unreachable")
            }
        }
    }

    /// Starts client `id` submitting `values`; it stops by itself once all are decided (``StopReason/finished``),
    /// or with ``StopReason/timedOut`` after `timeout` seconds. Wait for it with ``waitForStop(_:timeout:)``.
    public func submit(client id: UInt32, values: [[UInt8]], timeout: Double = 60) throws {
        try launch(NodeID(.client, id)) { startup, runtime, outbox, _ in
            let client = Paxos.Client(id: id, incarnation: UInt64.random(in: .min ... .max), settings: startup.config.settings)
            let node = ClientNode(client: client, outbox: outbox, admission: startup.admission, notify: startup.notify)
            let ticksAllowed = UInt64(max(timeout, 0) * 1000 / Double(startup.config.tickMilliseconds))
            runtime.onTick = { [unowned runtime] tick in if tick >= ticksAllowed { runtime.stop(.timedOut) } }
            let onLoop = OnLoop(value: node)
            runtime.execute {
                onLoop.value.submit(values)
                onLoop.value.closeInput()
            }
            return (node, {})
        }
    }

    private func launch(_ who: NodeID,
                        _ assemble: (NodeStartup, NodeRuntime, Outbox, String) throws -> (any Node, () -> Void)) throws {
        lock.lock()
        let busy = running[who] != nil
        lock.unlock()
        if busy { throw Failure.alreadyRunning(who) }
        let folder = options.stateFolders[who] ?? directory
        let startup = try NodeStartup(role: who.role, id: who.id, configPath: configPath, state: folder,
                                      logLevel: options.logLevel, environment: [:])
        let runtime = startup.makeRuntime()
        var outbox = runtime.outbox
        if let onSend = options.onSend {
            let send = outbox.send
            outbox.send = { out in
                onSend(who, out)
                send(out)
            }
        }
        let path = "\(folder)/\(who.role.rawValue)-\(who.id).sqlite"
        let (node, close) = try assemble(startup, runtime, outbox, path)
        if startup.logger.logLevel <= .debug { node.logger = startup.logger }  // as NodeStartup.run does
        let entry = Running(role: who.role, runtime: runtime, node: node, close: close)
        lock.lock()
        running[who] = entry
        stops[who] = nil
        lock.unlock()
        // NodeRuntime.run blocks its thread until the node stops: a thread of its own, not a task.
        let thread = Thread { [self] in
            let result = Result { try entry.runtime.run(entry.node, role: entry.role) }
            entry.close()
            lock.lock()
            entry.reason = result
            stops[who] = result
            if running[who] === entry { running[who] = nil }
            lock.unlock()
            entry.done.signal()
        }
        thread.name = "paxos-live \(who)"
        thread.start()
    }

    // MARK: stopping

    /// Stops a node as SIGTERM does (what its last burst produced is persisted first) and waits for it.
    @discardableResult
    public func stop(_ role: Role, _ id: UInt32) -> StopReason? { halt(NodeID(role, id), .signal(SIGTERM)) }

    /// Stops a node abruptly, as `kill -9` would between two bursts: no shutdown of its own, the next start
    /// rebuilds it from its database alone. (In-process the kill lands between bursts, never inside one;
    /// the simulator crashes nodes mid-burst.)
    @discardableResult
    public func kill(_ role: Role, _ id: UInt32) -> StopReason? { halt(NodeID(role, id), .signal(SIGKILL)) }

    private func halt(_ who: NodeID, _ reason: StopReason) -> StopReason? {
        lock.lock()
        let entry = running[who]
        lock.unlock()
        guard let entry else { return nil }
        entry.runtime.stop(reason)
        entry.done.wait()
        lock.lock()
        defer { lock.unlock() }
        return try? entry.reason?.get()
    }

    /// Waits (without blocking a thread of the cooperative pool) until the node stopped by itself or was
    /// stopped; nil if it still runs after `timeout` seconds. A node that failed to start throws its error.
    public func waitForStop(_ role: Role, _ id: UInt32, timeout: Double) async throws -> StopReason? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            if let result = stopReason(role, id) { return try result.get() }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Whether the node runs now.
    public func isRunning(_ role: Role, _ id: UInt32) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return running[NodeID(role, id)] != nil
    }

    /// How the node stopped last (nil while it runs or if it never ran).
    public func stopReason(_ role: Role, _ id: UInt32) -> Result<StopReason, any Error>? {
        lock.lock()
        defer { lock.unlock() }
        return running[NodeID(role, id)] == nil ? stops[NodeID(role, id)] : nil
    }

    /// The node's counters, read on its own loop (nil if it does not run).
    public func snapshot(_ role: Role, _ id: UInt32) -> Snapshot? {
        lock.lock()
        let entry = running[NodeID(role, id)]
        lock.unlock()
        guard let entry else { return nil }
        return try? entry.runtime.eventLoop.submit {
            Snapshot(counters: entry.node.counters, rejected: entry.runtime.rejected, sendErrors: entry.runtime.sendErrors,
                     progress: entry.node.progress)
        }.wait()
    }

    /// Stops every node (as SIGTERM does) and removes the folder; idempotent.
    public func shutdown(keepFolder: Bool = false) {
        lock.lock()
        let all = running
        let first = !isShutDown
        isShutDown = true
        lock.unlock()
        for (_, entry) in all { entry.runtime.stop(.signal(SIGTERM)) }
        for (_, entry) in all { entry.done.wait() }
        if first && !keepFolder { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: deliveries

    /// What learner `id` delivered, in order, across its restarts.
    public func delivered(learner id: UInt32) -> [Submission] {
        lock.lock()
        defer { lock.unlock() }
        return outputs[id] ?? []
    }

    /// The values learner `id` delivered, in order.
    public func deliveredValues(learner id: UInt32) -> [[UInt8]] { delivered(learner: id).map(\.value) }

    /// What the harness itself noticed going wrong (a learner restarting with another delivered count than
    /// it handed out): empty in a sound run.
    public var problems: [String] {
        lock.lock()
        defer { lock.unlock() }
        return harnessProblems
    }

    /// Polls `condition` every 10 ms until it holds (true) or `timeout` seconds passed (false).
    public func waitUntil(timeout: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while !condition() {
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    private func record(learner id: UInt32, _ deliveries: [Delivery]) {
        lock.lock()
        defer { lock.unlock() }
        var out = outputs[id] ?? []
        for d in deliveries {
            if d.position != UInt64(out.count) + 1 {
                harnessProblems.append("learner \(id) delivered position \(d.position) after \(out.count) values")
            }
            out.append(d.submission)
        }
        outputs[id] = out
    }

    /// A restarted learner goes on from its database's position: what it handed out before must be exactly
    /// that (values reach the output only once durable, so none can be missing or extra).
    private func resumeOutput(learner id: UInt32, nextPosition: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        let have = UInt64(outputs[id]?.count ?? 0)
        if have != nextPosition - 1 {
            harnessProblems.append("learner \(id) restarts at position \(nextPosition) but had delivered \(have) values")
        }
    }
}
