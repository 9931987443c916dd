import NIOCore
@testable import Paxos
import Testing

/// The library client's deadlines, driven by hand on its own tables: its submitters are real tasks waiting on
/// ``Client/submit(contentsOf:timeout:)``, and the test plays its node (hand-over, the node's sends, the leader's
/// decisions, ticks) at times of its choosing, so what is checked does not depend on the machine's speed.
@Suite struct ClientDeadlineTests {
    let window = 4
    let timeout = Duration.milliseconds(100)
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    /// A client that never runs (its configuration is never used to open anything), and its submissions handed
    /// to the test as its node would take them.
    func handOver(_ client: Client, _ count: Int, at now: NIODeadline) async throws -> [[UInt8]] {
        while client.inbox.withLock({ $0.pending.count }) < count { try await Task.sleep(for: .milliseconds(1)) }
        var values: [[UInt8]] = []
        client.takeQueue(into: &values, now: now)
        return values
    }

    func ids(_ sequences: ClosedRange<Int>) -> [SubmissionID] {
        sequences.map { SubmissionID(client: 0, incarnation: 0, sequence: UInt64($0)) }
    }

    /// Five windows, each decided 60 ms after it was sent: the batch takes 300 ms, three times its timeout of
    /// 100 ms, and is decided; its later values waited behind a window that moved. (Before a deadline started
    /// when its value was sent, the whole batch had 100 ms from its hand-over and failed at the second tick.)
    @Test func aBatchQueuedBehindAMovingWindowIsNotTimedOut() async throws {
        let test = try TestCluster()
        let client = Client(id: 1, configuration: test.configuration)
        let batch = (0..<5 * window).map { Array("v\($0)".utf8) }
        let submitted = Task { try await client.submit(contentsOf: batch, timeout: timeout) }
        #expect(try await handOver(client, 1, at: start) == batch)
        var now = start
        for w in 0..<5 {
            client.noteSent(through: UInt64((w + 1) * window), now: now)
            // Ticks while the window is undecided: nothing is late.
            for _ in 0..<6 {
                now = now + .milliseconds(10)
                client.expire(now: now)
            }
            client.decided(ids((w * window + 1)...((w + 1) * window)))
        }
        #expect(try await submitted.value.map(\.sequence) == Array(1...UInt64(batch.count)))
        #expect(client.table.withLock { $0.sent.isEmpty && $0.sends.isEmpty })
    }

    /// A cluster that decides nothing: the values sent time out `timeout` after they were sent, and a
    /// submission waiting behind the stuck window `timeout` after the node's last send (or its hand-over, if later).
    @Test func aStuckWindowStillTimesOutWhatWasSentAndWhatWaitsBehindIt() async throws {
        let test = try TestCluster()
        let client = Client(id: 1, configuration: test.configuration)
        let batch = (0..<2 * window).map { Array("v\($0)".utf8) }
        let first = Task { try await client.submit(contentsOf: batch, timeout: timeout) }
        _ = try await handOver(client, 1, at: start)
        // Sent 20 ms after the hand-over (the sockets opened late): its clock starts then.
        client.noteSent(through: UInt64(window), now: start + .milliseconds(20))
        let second = Task { try await client.submit("behind", timeout: timeout) }
        _ = try await handOver(client, 1, at: start + .milliseconds(50))
        client.expire(now: start + .milliseconds(110))
        #expect(client.table.withLock { $0.deadlines.count == 1 && $0.deadlines[0].queue.count == 2 })
        client.expire(now: start + .milliseconds(120))
        await #expect(throws: PaxosError.noQuorumReachable(SubmissionID(client: 0, incarnation: 0, sequence: 1))) {
            try await first.value
        }
        // Handed over at 50 ms, after the last send (20 ms): late at 150 ms, not before.
        client.expire(now: start + .milliseconds(149))
        #expect(client.table.withLock { $0.deadlines.count == 1 })
        client.expire(now: start + .milliseconds(150))
        await #expect(throws: PaxosError.noQuorumReachable(SubmissionID(client: 0, incarnation: 0, sequence: 9))) {
            try await second.value
        }
        #expect(client.table.withLock { $0.sent.isEmpty && $0.deadlines.isEmpty })
    }

    /// A value sent and never decided while the window moves on past it (later values decided, new ones sent):
    /// its batch times out `timeout` after that value was sent, naming it, however much the rest progressed.
    @Test func aValueSentAndNeverDecidedTimesOutItsBatch() async throws {
        let test = try TestCluster()
        let client = Client(id: 1, configuration: test.configuration)
        let batch = (0..<3 * window).map { Array("v\($0)".utf8) }
        let submitted = Task { try await client.submit(contentsOf: batch, timeout: timeout) }
        _ = try await handOver(client, 1, at: start)
        client.noteSent(through: UInt64(window), now: start)
        // All of the first window but its first value, then the second window, are decided in time.
        client.decided(ids(2...window))
        client.noteSent(through: UInt64(2 * window - 1), now: start + .milliseconds(40))
        client.decided(ids((window + 1)...(2 * window - 1)))
        client.noteSent(through: UInt64(3 * window - 1), now: start + .milliseconds(80))
        client.expire(now: start + .milliseconds(99))
        #expect(client.table.withLock { !$0.deadlines.isEmpty })
        client.expire(now: start + .milliseconds(100))
        await #expect(throws: PaxosError.noQuorumReachable(SubmissionID(client: 0, incarnation: 0, sequence: 1))) {
            try await submitted.value
        }
    }

    /// The client's node tells its owner what each burst sent: the deadlines above start from the node's own
    /// sends (a window's worth of a larger batch), not from the hand-over.
    @Test func theNodeReportsItsSendsAtTheEndOfABurst() async throws {
        let test = try TestCluster()
        var configuration = test.configuration
        configuration.cluster.settings.clientWindow = window
        let client = Client(id: 1, configuration: configuration)
        let startup = try configuration.startup(.client, 1)
        let runtime = startup.makeRuntime()
        defer { runtime.discard() }
        let node = EmbeddedClientNode(inner: startup.clientNode(runtime: runtime), owner: client)
        let submitted = Task { try await client.submit(contentsOf: (0..<3 * window).map { Array("v\($0)".utf8) }) }
        while client.inbox.withLock({ $0.pending.count }) < 1 { try await Task.sleep(for: .milliseconds(1)) }
        node.drain()
        #expect(client.table.withLock { $0.sentThrough } == 0)
        try node.endOfBurst()
        #expect(client.table.withLock { $0.sentThrough == UInt64(window) && $0.lastSend != nil })
        submitted.cancel()
        await #expect(throws: PaxosError.cancelled(SubmissionID(client: 0, incarnation: 0, sequence: 1))) {
            try await submitted.value
        }
    }
}
