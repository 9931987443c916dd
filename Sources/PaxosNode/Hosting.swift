import Foundation
import Logging
import Metrics
import PaxosCore
import PaxosStore

// How a role starts and runs, written once for its two users: the `paxos` command (one role per process,
// on the calling thread) and the `Paxos` library (any number per process, each on a thread of its own).

/// A role's node, assembled on its locked state, and how to close its store once the node stopped.
public struct AssembledNode {
    /// The node the runtime runs.
    public var node: any Node
    /// Closes its store (called once the node stopped; nothing for a client).
    public var close: () -> Void

    public init(node: any Node, close: @escaping () -> Void = {}) {
        self.node = node
        self.close = close
    }
}

/// How a learner prints (``LearnerNode``'s `printsFirst` and `printedAhead`): by default after its own
/// commit, with nothing printed past its database.
public struct LearnerPrinting: Sendable {
    /// Prints a burst's decided values before its own commit (into a regular file it can read back).
    public var printsFirst: Bool
    /// Values its output holds past its database, to be learned again and not printed a second time.
    public var printedAhead: [[UInt8]]

    public init(printsFirst: Bool = false, printedAhead: [[UInt8]] = []) {
        self.printsFirst = printsFirst
        self.printedAhead = printedAhead
    }
}

/// The exclusive lock on one role's state in a folder, so two runs never share it (a flock lock: it holds
/// against the same process too, and dies with the process, kill -9 included). Held until ``release()``
/// or the process ends: the `paxos` command never releases it, an application that stops a role does.
public final class StateLock {
    /// The role's SQLite file beside the lock.
    public let databasePath: String
    private var fd: Int32

    /// Creates the state folder if needed and takes the lock of `role` `id` in it.
    public init(directory: String, role: Role, id: UInt32) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StartupError("cannot create state folder '\(directory)': \(error.localizedDescription)")
        }
        guard access(directory, W_OK) == 0 else {
            throw StartupError("state folder '\(directory)' is not writable")
        }
        let name = "\(role.rawValue)-\(id)"
        let lockPath = "\(directory)/\(name).lock"
        fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StartupError("cannot open lock file '\(lockPath)': \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StartupError("\(role.rawValue) \(id) is already running with state in '\(directory)'")
        }
        databasePath = "\(directory)/\(name).sqlite"
    }

    /// Releases the lock (once; later calls do nothing).
    public func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }
}

extension NodeStartup {
    /// Runs the role: takes the lock on its state, makes its runtime, assembles its node (`assemble` gets the
    /// runtime and the SQLite file's path), lets `prepare` see the runtime before it runs (signals, status),
    /// runs the node until it stops, logs how, closes the store and releases the lock. Blocks the calling
    /// thread; returns why the node stopped, throws if it could not start.
    public func host(prepare: (NodeRuntime) -> Void,
                     assemble: (NodeRuntime, _ databasePath: String) throws -> AssembledNode) throws -> StopReason {
        let lock = try StateLock(directory: stateDirectory, role: role, id: id)
        defer { lock.release() }
        let runtime = makeRuntime()
        let assembled: AssembledNode
        do {
            assembled = try assemble(runtime, lock.databasePath)
        } catch {
            runtime.discard()
            throw error
        }
        defer { assembled.close() }
        let node = assembled.node
        if logger.logLevel <= .debug { node.logger = logger }
        prepare(runtime)
        let reason: StopReason
        do {
            reason = try runtime.run(node, role: role)
        } catch {
            throw StartupError("cannot open multicast sockets: \(error)")
        }
        let c = node.counters
        logger.info("stopping", metadata: ["reason": "\(reason)", "received": "\(c.received)", "dropped": "\(c.dropped)",
                                           "foreign": "\(c.foreign)", "twin": "\(c.twin)",
                                           "rejected": "\(runtime.rejected)", "sendErrors": "\(runtime.sendErrors)",
                                           "sent": "\(c.sent)", "commits": "\(c.commits)", "fragments": "\(c.fragments)"])
        return reason
    }

    /// Runs the role as its own process: as ``host(prepare:assemble:)``, with SIGTERM and SIGINT routed to it
    /// (``StopSignals``) and its status and metrics files kept current; a stop other than a signal or a
    /// finished client throws ``NodeStopped``, which carries its exit code.
    public func runProcess(assemble: (NodeRuntime, _ databasePath: String) throws -> AssembledNode) throws {
        let reason = try host(prepare: { runtime in
            StopSignals.shared.register(runtime)
            reportStatus(of: runtime)
        }, assemble: assemble)
        if reason.exitCode != 0 { throw NodeStopped(role: role, id: id, reason: reason) }
    }

    /// Keeps the node's status current while it runs: `<state>/<role>-<id>.status` (unless `statusFile` is
    /// false) and its counters through swift-metrics. Without `metricsFactory` the counters have a registry
    /// of their own, written to `<state>/<role>-<id>.prom`, and a client's progress is logged (the `paxos`
    /// command); with one (the application's `MetricsSystem`) they go there. `also` sees every report.
    public func reportStatus(of runtime: NodeRuntime, statusFile: Bool = true, metricsFactory: (any MetricsFactory)? = nil,
                             also: ((StatusReport) -> Void)? = nil) {
        let base = "\(stateDirectory)/\(role.rawValue)-\(id)"
        let metrics = NodeMetrics(role: role, id: id, factory: metricsFactory)
        let exposition = metricsFactory == nil
        let role = role.rawValue
        let id = id
        let pid = getpid()
        var watch = self.role == .client && exposition ? ClientWatch(id: id) : nil
        let logger = logger
        runtime.onStatus = { report in
            also?(report)
            let now = Date().timeIntervalSince1970
            if statusFile {
                StatusFile.write(StatusFile.render(role: role, id: id, pid: pid, now: now, report: report), to: base + ".status")
            }
            metrics.update(report)
            if exposition { StatusFile.write(metrics.exposition, to: base + ".prom") }
            switch report.running ? watch?.observe(report, at: now) : nil {
            case .stalled(let line): logger.warning("\(line)")
            case .progress(let line): logger.info("\(line)")
            case nil: break
            }
        }
    }

    // MARK: the roles' nodes

    /// An acceptor on its state file at `path`, its start logged.
    public func acceptorNode(runtime: NodeRuntime, path: String) throws -> AssembledNode {
        let loading = ContinuousClock.now
        let store = try AcceptorStore(path: path, synchronous: config.synchronous)
        do {
            let state = try store.load()
            let acceptor = Paxos.Acceptor(id: id, settings: config.settings, restoring: state, seed: UInt64.random(in: .min ... .max))
            logger.info("acceptor \(id) starts", metadata: [
                "promised": "\(state.promised)", "accepted": "\(state.accepted.count)",
                "trimmedThrough": "\(state.trimmedThrough)", "state": "\(store.path)",
                "loadedIn": "\(ContinuousClock.now - loading)"])
            if acceptor.isRecovering {
                logger.notice("acceptor \(id) starts without state: it takes no part until it knows from the other acceptors whether the cluster has history (and if so, has recovered it)")
            }
            return AssembledNode(node: AcceptorNode(acceptor: acceptor, store: store, outbox: runtime.outbox,
                                                    admission: admission, notify: notify), close: store.close)
        } catch {
            store.close()
            throw error
        }
    }

    /// A proposer on its state file at `path`, its start and its changes of mode logged.
    public func proposerNode(runtime: NodeRuntime, path: String) throws -> AssembledNode {
        let store = try ProposerStore(path: path, synchronous: .full)
        do {
            let state = try store.load()
            logger.info("proposer \(id) starts", metadata: ["highestRound": "\(state.highestRound)", "state": "\(store.path)"])
            let proposer = Paxos.Proposer(id: id, settings: config.settings, restoring: state,
                                          seed: UInt64.random(in: .min ... .max), incarnation: me.incarnation)
            let node = ProposerNode(proposer: proposer, store: store, outbox: runtime.outbox, admission: admission, notify: notify)
            let logger = logger
            let id = id
            node.onModeChange = { mode, ballot in
                switch mode {
                case .candidate: logger.notice("proposer \(id) starts an election with ballot \(ballot)")
                case .leader: logger.notice("proposer \(id) leads with ballot \(ballot)")
                case .follower: logger.notice("proposer \(id) stands by: it heard a higher ballot than its own \(ballot)")
                }
            }
            return AssembledNode(node: node, close: store.close)
        } catch {
            store.close()
            throw error
        }
    }

    /// A learner on its state file at `path`, its start logged; `loaded` sees its store and state before it
    /// runs (the command repairs its standard output there) and says how it prints (``LearnerPrinting``),
    /// `output` gets its deliveries.
    public func learnerNode(runtime: NodeRuntime, path: String,
                            loaded: (LearnerStore, LearnerDurableState) throws -> LearnerPrinting = { _, _ in LearnerPrinting() },
                            output: @escaping ([Delivery]) throws -> Void) throws -> AssembledNode {
        let store = try LearnerStore(path: path, synchronous: config.synchronous)
        do {
            let state = try store.load()
            logger.info("learner \(id) starts", metadata: [
                "nextInstance": "\(state.nextInstance)", "nextPosition": "\(state.nextPosition)", "state": "\(store.path)"])
            let printing = try loaded(store, state)
            let learner = Paxos.Learner(id: id, settings: config.settings, restoring: state)
            let node = LearnerNode(learner: learner, store: store, outbox: runtime.outbox, output: output,
                                   printsFirst: printing.printsFirst, pacesCommits: true, printedAhead: printing.printedAhead,
                                   admission: admission, notify: notify)
            return AssembledNode(node: node, close: store.close)
        } catch {
            store.close()
            throw error
        }
    }

    /// A client under a new random incarnation (its values are numbered afresh); `notified` sees what the
    /// node reports besides the log.
    public func clientNode(runtime: NodeRuntime, notified: (@Sendable (NodeNotice) -> Void)? = nil) -> ClientNode {
        let client = Paxos.Client(id: id, incarnation: UInt64.random(in: .min ... .max), settings: config.settings)
        let notify = notify
        return ClientNode(client: client, outbox: runtime.outbox, admission: admission,
                          notify: notified.map { also in { notice in notify(notice); also(notice) } } ?? notify)
    }
}
