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

    /// Runs the role on a thread of its own, started as the `paxos` command starts it
    /// (``NodeStartup/host(prepare:assemble:)``); `assemble` gets the runtime and the SQLite file's path.
    static func run(_ startup: NodeStartup, configuration: PaxosConfiguration, handle: Handle = Handle(),
                    stopping: (@Sendable () -> Void)? = nil,
                    assemble: @escaping @Sendable (NodeRuntime, String) throws -> AssembledNode) async throws(PaxosError) {
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
                                    stopping: (@Sendable () -> Void)?,
                                    assemble: (NodeRuntime, String) throws -> AssembledNode) -> Result<StopReason, PaxosError> {
        do {
            return .success(try startup.host(prepare: { runtime in
                // The runtime reports once more when it stops, on its loop, before the loop shuts down.
                startup.reportStatus(of: runtime, statusFile: configuration.writesStatusFiles,
                                     metricsFactory: MetricsSystem.factory) { report in
                    if !report.running {
                        handle.detach()
                        stopping?()
                    }
                }
                handle.attach(runtime)
            }, assemble: assemble))
        } catch {
            handle.detach()
            stopping?()
            let name = "\(startup.role.rawValue) \(startup.id)"
            let text = "\(error)"
            return .failure(.startFailed(text.hasPrefix(name) ? text : "\(name): \(text)"))
        }
    }
}
