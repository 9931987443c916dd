import Foundation
@testable import Paxos
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What this process writes to its standard error (file descriptor 2) while `body` runs; it reaches the real
/// standard error too, once `body` returned. NIO reports a task scheduled on an event loop that has shut down
/// only there, with one line (or traps, in its strict mode).
func capturingStandardError(_ body: () async throws -> Void) async throws -> String {
    final class Captured: Sendable {
        let bytes = Mutex<[UInt8]>([])
        let done = DispatchSemaphore(value: 0)
    }
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw POSIXError(.EMFILE) }
    let saved = dup(2)
    let captured = Captured()
    let readEnd = ends[0]
    let reader = Thread {
        var buffer = [UInt8](repeating: 0, count: 4_096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            captured.bytes.withLock { $0.append(contentsOf: buffer[0..<n]) }
        }
        captured.done.signal()
    }
    reader.start()
    dup2(ends[1], 2)
    close(ends[1])
    func restore() -> String {
        // The pipe's last writer goes away: the reader sees its end.
        dup2(saved, 2)
        close(saved)
        captured.done.wait()
        close(readEnd)
        let bytes = captured.bytes.withLock { $0 }
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
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
    @Test(.timeLimit(.minutes(1))) func submittersOfAClientWhoseSocketsWillNotOpenNeverTouchADeadLoop() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        var configuration = test.configuration
        // Not an address of this machine: the sockets are refused (nothing is sent anywhere).
        configuration.cluster.interface = "10.255.255.1"
        let c = configuration
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        var outcomes: [String: Int] = [:]
        let stderr = try await capturingStandardError {
            for round in 0..<30 {
                let client = Client(id: 1, configuration: c)
                let runEnded = Flag()
                let run = Task {
                    defer { runEnded.raised.store(true, ordering: .releasing) }
                    try await client.run()
                }
                if round % 2 == 1 {
                    // A stop from another thread, at some moment of the start (before, during or after the failure).
                    Task {
                        try? await Task.sleep(for: .microseconds(Int.random(in: 0...3_000)))
                        run.cancel()
                    }
                }
                // New submitters until the run ended (each waits until then): many hand-overs around the failure.
                await withTaskGroup(of: String.self) { submitters in
                    var spawned = 0
                    while !runEnded.raised.load(ordering: .acquiring) || spawned == 0 {
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
                do {
                    try await run.value
                    Issue.record("the run did not fail")
                } catch {
                    guard case .startFailed(let why)? = error as? PaxosError else { throw error }
                    #expect(why.contains("multicast sockets"))
                }
            }
        }
        #expect(Array(outcomes.keys) == ["\(PaxosError.clientNotRunning)"], "every submission refused or ended: \(outcomes)")
        let deadLoop = stderr.components(separatedBy: "Cannot schedule tasks on an EventLoop that has already shut down").count - 1
        #expect(deadLoop == 0, "tasks scheduled on an event loop that had shut down")
    }
}
