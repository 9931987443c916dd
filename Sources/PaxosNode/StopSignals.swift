import Foundation

/// SIGTERM and SIGINT for the roles, from the first instruction of `main`: both are blocked in every
/// thread and a thread takes them with sigwait, so none is ever lost or kills the process while it
/// starts. Until the runtime is registered a signal is remembered; registering then stops the runtime at
/// once (it opens and closes its sockets and ends with exit status 0). Without this, a signal between
/// the process's start and the runtime's own handlers killed it (status 143), or, in the instant the
/// runtime ignored the signal before its dispatch source was up, was lost and left it running.
public final class StopSignals: @unchecked Sendable {
    public static let shared = StopSignals()
    private let lock = NSLock()
    private var runtime: NodeRuntime?
    private var pending: Int32?
    private var installed = false

    public func install() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        Thread.detachNewThread { [self] in
            var signals = blocked
            while true {
                var sig: Int32 = 0
                guard sigwait(&signals, &sig) == 0 else { continue }
                self.received(sig)
            }
        }
    }

    private func received(_ sig: Int32) {
        lock.lock()
        defer { lock.unlock() }
        if let runtime {
            runtime.stop(.signal(sig))
        } else if pending == nil {
            pending = sig
        }
    }

    /// The runtime about to run; a signal already received stops it straight away.
    public func register(_ runtime: NodeRuntime) {
        lock.lock()
        defer { lock.unlock() }
        self.runtime = runtime
        if let pending { runtime.stop(.signal(pending)) }
    }
}
