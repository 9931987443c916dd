import Foundation
import Logging
import Metrics
import PaxosCore
import PaxosNode
import ServiceLifecycle
import Synchronization

/// Runs one node as the `paxos` command runs it (a ``NodeRuntime`` on its own event loop thread, the shells'
/// own nodes, the same stores), but as an async function: it returns when the task is cancelled or the
/// service group shuts down gracefully (after persisting what the node was doing, as SIGTERM does), and throws
/// when the node stops by itself.
enum NodeHost {
    /// What a role assembles once its state is locked: its node and how to close its store.
    struct Assembled {
        var node: any Node
        var close: () -> Void
    }

    /// Where a running node's runtime is published for stopping it from another task.
    final class Handle: Sendable {
        private struct State {
            var runtime: NodeRuntime?
            var stopRequested = false
        }
        private let state = Mutex(State())

        func attach(_ runtime: NodeRuntime) {
            let stop = state.withLock { s in
                s.runtime = runtime
                return s.stopRequested
            }
            if stop { runtime.stop(.signal(SIGTERM)) }
        }

        /// Stops the node as SIGTERM does; before it runs, it stops as soon as it starts; once it stopped,
        /// nothing (its loop is gone).
        func stop() {
            state.withLock { s in
                s.stopRequested = true
                s.runtime?.stop(.signal(SIGTERM))
            }
        }

        /// The node stopped: called on its loop, before the loop shuts down.
        func detach() {
            state.withLock { s in
                s.runtime = nil
                s.stopRequested = true
            }
        }

        var runtime: NodeRuntime? { state.withLock { $0.runtime } }
    }

    /// Locks the role's state, assembles its node on a thread of its own and runs it there until it stops.
    /// `assemble` gets the startup, the runtime and the SQLite file's path.
    static func run(_ startup: NodeStartup, configuration: PaxosConfiguration, handle: Handle = Handle(),
                    stopping: (@Sendable () -> Void)? = nil,
                    assemble: @escaping @Sendable (NodeStartup, NodeRuntime, String) throws -> Assembled) async throws(PaxosError) {
        let result: Result<StopReason, PaxosError> = await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Result<StopReason, PaxosError>, Never>) in
                    let thread = Thread {
                        continuation.resume(returning: runBlocking(startup, configuration: configuration, handle: handle,
                                                                   stopping: stopping, assemble: assemble))
                    }
                    thread.name = "paxos \(startup.role.rawValue) \(startup.id)"
                    thread.start()
                }
            } onCancel: {
                handle.stop()
            }
        } onGracefulShutdown: {
            handle.stop()
        }
        let reason = try result.get()
        if reason.exitCode != 0 { throw .stopped("\(startup.role.rawValue) \(startup.id): \(reason)", exitStatus: reason.exitCode) }
    }

    private static func runBlocking(_ startup: NodeStartup, configuration: PaxosConfiguration, handle: Handle,
                                    stopping: (@Sendable () -> Void)?, assemble: (NodeStartup, NodeRuntime, String) throws -> Assembled) -> Result<StopReason, PaxosError> {
        let lock: StateLock
        do {
            lock = try StateLock(directory: startup.stateDirectory, name: "\(startup.role.rawValue)-\(startup.id)")
        } catch {
            return .failure(.startFailed("\(error)"))
        }
        defer { lock.release() }
        let runtime = startup.makeRuntime()
        let assembled: Assembled
        do {
            assembled = try assemble(startup, runtime, lock.databasePath)
        } catch {
            return .failure(.startFailed("\(startup.role.rawValue) \(startup.id): \(error)"))
        }
        defer { assembled.close() }
        let node = assembled.node
        if startup.logger.logLevel <= .debug { node.logger = startup.logger }
        report(startup, configuration: configuration, runtime: runtime) { running in
            // The runtime reports once more when it stops, on its loop, before the loop shuts down.
            if !running {
                handle.detach()
                stopping?()
            }
        }
        handle.attach(runtime)
        let reason: StopReason
        do {
            reason = try runtime.run(node, role: startup.role)
        } catch {
            handle.detach()
            stopping?()
            return .failure(.startFailed("\(startup.role.rawValue) \(startup.id): cannot open multicast sockets: \(error)"))
        }
        let c = node.counters
        startup.logger.info("stopping", metadata: ["reason": "\(reason)", "received": "\(c.received)", "dropped": "\(c.dropped)",
                                                   "foreign": "\(c.foreign)", "rejected": "\(runtime.rejected)",
                                                   "sent": "\(c.sent)", "commits": "\(c.commits)"])
        return .success(reason)
    }

    /// The node's counters through swift-metrics (the application's `MetricsSystem`), and its status file.
    private static func report(_ startup: NodeStartup, configuration: PaxosConfiguration, runtime: NodeRuntime,
                               running: @escaping (Bool) -> Void) {
        let metrics = EmbeddedMetrics(role: startup.role, id: startup.id)
        let statusPath = configuration.writesStatusFiles ? "\(startup.stateDirectory)/\(startup.role.rawValue)-\(startup.id).status" : nil
        let role = startup.role.rawValue, id = startup.id, pid = getpid()
        runtime.onStatus = { report in
            running(report.running)
            metrics.update(report)
            if let statusPath {
                StatusFile.write(StatusFile.render(role: role, id: id, pid: pid, now: Date().timeIntervalSince1970, report: report),
                                 to: statusPath)
            }
        }
    }
}

/// The exclusive lock on one role's state in a folder, released when the role stops (unlike the `paxos`
/// command's, which dies with its process): an application may stop a role and start it again.
final class StateLock {
    let databasePath: String
    private var fd: Int32

    init(directory: String, name: String) throws(PaxosError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .startFailed("cannot create state folder '\(directory)': \(error.localizedDescription)")
        }
        let lockPath = "\(directory)/\(name).lock"
        fd = open(lockPath, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .startFailed("cannot open lock file '\(lockPath)': \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw .startFailed("\(name.replacingOccurrences(of: "-", with: " ")) is already running with state in '\(directory)'")
        }
        databasePath = "\(directory)/\(name).sqlite"
    }

    func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// A node's counters through the process-wide swift-metrics backend, labelled by role and id: the same
/// names the `paxos` command exports to its `.prom` file.
final class EmbeddedMetrics: Sendable {
    private let received, dropped, rejected, foreign, sent, commits, sendErrors: Counter
    private let instance, values: Gauge
    private let last = Mutex<StatusReport?>(nil)

    init(role: Role, id: UInt32) {
        let labels = [("role", role.rawValue), ("id", "\(id)")]
        received = Counter(label: "paxos_datagrams_received_total", dimensions: labels)
        dropped = Counter(label: "paxos_datagrams_dropped_total", dimensions: labels)
        rejected = Counter(label: "paxos_datagrams_rejected_total", dimensions: labels)
        foreign = Counter(label: "paxos_datagrams_foreign_total", dimensions: labels)
        sent = Counter(label: "paxos_messages_sent_total", dimensions: labels)
        commits = Counter(label: "paxos_commits_total", dimensions: labels)
        sendErrors = Counter(label: "paxos_send_errors_total", dimensions: labels)
        instance = Gauge(label: "paxos_instance", dimensions: labels)
        values = Gauge(label: "paxos_values", dimensions: labels)
    }

    func update(_ r: StatusReport) {
        let before = last.withLock { last in
            defer { last = r }
            return last
        }
        func delta(_ now: Int, _ then: Int?) -> Int64 { Int64(max(now - (then ?? 0), 0)) }
        received.increment(by: delta(r.counters.received, before?.counters.received))
        dropped.increment(by: delta(r.counters.dropped, before?.counters.dropped))
        rejected.increment(by: delta(r.rejected, before?.rejected))
        foreign.increment(by: delta(r.counters.foreign, before?.counters.foreign))
        sent.increment(by: delta(r.counters.sent, before?.counters.sent))
        commits.increment(by: delta(r.counters.commits, before?.counters.commits))
        sendErrors.increment(by: delta(r.sendErrors, before?.sendErrors))
        instance.record(Double(r.progress.instance))
        values.record(Double(r.progress.values))
    }
}
