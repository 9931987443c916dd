import Foundation
@testable import Paxos
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What this process writes to its standard error (file descriptor 2) while `body` runs; it reaches the real
/// standard error too, once `body` returned. NIO reports a task scheduled on an event loop that has shut down
/// only there, with one line (or traps, in its strict mode). Written to a temporary file meanwhile, not a pipe:
/// the other tests running beside this one write there too (their nodes log), and a write to a pipe whose
/// reader lags blocks (their loops stalled, and their timing tests failed). Keep `body` short for the same
/// reason: what the other tests write shows only once it returned.
func capturingStandardError(_ body: () async throws -> Void) async throws -> String {
    let path = NSTemporaryDirectory() + "paxos-stderr-\(UUID().uuidString)"
    let file = open(path, O_CREAT | O_RDWR | O_APPEND | O_CLOEXEC, 0o600)
    guard file >= 0 else { throw POSIXError(.EIO) }
    unlink(path)
    let saved = dup(2)
    dup2(file, 2)
    func restore() -> String {
        dup2(saved, 2)
        close(saved)
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(file, $0.baseAddress, $0.count, offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        close(file)
        bytes.withUnsafeBytes { all in
            var written = 0
            while written < all.count {
                let n = write(2, all.baseAddress! + written, all.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                written += n
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
    do {
        try await body()
    } catch {
        _ = restore()
        throw error
    }
    return restore()
}

@Suite(.serialized) struct ClientStartFailureTests {
    /// A client whose sockets cannot open fails its run after its node was assembled and handed to its inbox:
    /// submitters that hand values over meanwhile (and a cancellation of the run, which stops the node) either
    /// reach the node's loop while it lives or are refused, and every submission ends with clientNotRunning.
    /// Before the runtime refused work once its loop shut down, a hand-over in the moment between the loop's
    /// shutdown and the client's stop was scheduled on the dead loop (NIO's error line, or a trap).
    @Test(.timeLimit(.minutes(2))) func submittersOfAClientWhoseSocketsWillNotOpenNeverTouchADeadLoop() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        var configuration = test.configuration
        // Not an address of this machine: the sockets are refused (nothing is sent anywhere).
        configuration.cluster.interface = "10.255.255.1"
        let c = configuration
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        var outcomes: [String: Int] = [:]
        var deadLoop = 0
        for round in 0..<60 {
            let client = Client(id: 1, configuration: c)
            // One round at a time (standard error is the whole process's: between rounds it is the real one again).
            let stderr = try await capturingStandardError {
                let runEnded = Flag()
                let run = Task {
                    defer { runEnded.raised.store(true, ordering: .releasing) }
                    try await client.run()
                }
                // A stop from another thread, at some moment of the start (before, during or after the failure).
                let stop = Task {
                    guard round % 2 == 1 else { return }
                    try? await Task.sleep(for: .microseconds(Int.random(in: 0...3_000)))
                    run.cancel()
                }
                // Once the node was handed to the inbox, new submitters until the run ended (each waits until
                // then), at most 300 (the machine may be busy with other tests): many hand-overs around the failure.
                while !runEnded.raised.load(ordering: .acquiring),
                      !client.inbox.withLock({ if case .running = $0.phase { true } else { false } }) {
                    try await Task.sleep(for: .microseconds(100))
                }
                await withTaskGroup(of: String.self) { submitters in
                    var spawned = 0
                    while spawned == 0 || (!runEnded.raised.load(ordering: .acquiring) && spawned < 300) {
                        spawned += 1
                        submitters.addTask {
                            do throws(PaxosError) {
                                _ = try await client.submit("x", timeout: .seconds(30))
                                return "decided"
                            } catch {
                                return "\(error)"
                            }
                        }
                        await Task.yield()
                    }
                    for await outcome in submitters { outcomes[outcome, default: 0] += 1 }
                }
                await stop.value
                do {
                    try await run.value
                    Issue.record("the run did not fail")
                } catch {
                    guard case .startFailed(let why)? = error as? PaxosError else { throw error }
                    #expect(why.contains("multicast sockets"))
                }
            }
            deadLoop += stderr.components(separatedBy: "Cannot schedule tasks on an EventLoop that has already shut down").count - 1
        }
        #expect(Array(outcomes.keys) == ["\(PaxosError.clientNotRunning)"], "every submission refused or ended: \(outcomes)")
        #expect(deadLoop == 0, "tasks scheduled on an event loop that had shut down")
    }
}
