import Foundation
import Logging
@testable import Paxos
import ServiceLifecycle
import Testing

/// A cluster of the library's roles in this process, over loopback multicast on a private group and free ports,
/// with its state in a temporary folder.
struct TestCluster {
    let configuration: PaxosConfiguration
    let directory: String

    init(acceptorCount: Int = 3, learnerCount: Int = 1, tickMilliseconds: Int = 5) throws {
        var cluster = try ClusterConfig.privateLoopback()
        cluster.settings.acceptorCount = acceptorCount
        cluster.settings.learnerCount = learnerCount
        cluster.tickMilliseconds = tickMilliseconds
        cluster.synchronous = .normal
        directory = NSTemporaryDirectory() + "paxos-embed-\(UUID().uuidString)"
        var logger = Logger(label: "paxos-test")
        logger.logLevel = .warning
        configuration = PaxosConfiguration(cluster: cluster, stateDirectory: directory, logger: logger)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Runs `body` with a cluster of 3 acceptors, a proposer, learner 1 and client 1 running (`acceptors: false`:
/// the client alone, nothing is ever decided), then stops them and removes the cluster's state.
func withCluster(acceptors: Bool = true, clientTimeout: Duration = .seconds(120),
                 configure: (inout PaxosConfiguration) -> Void = { _ in },
                 _ body: @escaping @Sendable (Client, Learner) async throws -> Void) async throws {
    let test = try TestCluster()
    defer { test.remove() }
    var configuration = test.configuration
    configure(&configuration)
    let c = configuration
    let learner = Learner(id: 1, configuration: c)
    let client = Client(id: 1, configuration: c, defaultTimeout: clientTimeout)
    try await withThrowingTaskGroup(of: Void.self) { group in
        if acceptors {
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await learner.run() }
        }
        group.addTask { try await client.run() }
        try await body(client, learner)
        group.cancelAll()
    }
}

/// Every value exactly once, at positions 1, 2, 3... without a gap.
func expectOneOrder(_ deliveries: [Delivery], values: Set<[UInt8]>) {
    #expect(deliveries.map(\.position) == Array(1...UInt64(deliveries.count)))
    #expect(deliveries.count == values.count)
    #expect(Set(deliveries.map(\.value)) == values)
}

@Suite(.serialized) struct EmbeddedClusterTests {
    /// 2,000 values here (the 10,000 of the issue run in Examples/replicated-kv, through the library by path,
    /// after this suite: fewer here keeps the load off the timing-sensitive tests that run beside this one).
    @Test func valuesFromEightTasksInOneOrder() async throws {
        let test = try TestCluster(learnerCount: 2)
        defer { test.remove() }
        let c = test.configuration
        let learners = [Learner(id: 1, configuration: c), Learner(id: 2, configuration: c)]
        let client = Client(id: 1, configuration: c, defaultTimeout: .seconds(120))
        let perTask = 250, tasks = 8
        let all = Set((0..<tasks).flatMap { t in (0..<perTask).map { Array("t\(t)-v\($0)".utf8) } })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            for learner in learners { group.addTask { try await learner.run() } }
            group.addTask { try await client.run() }

            let received = try await withThrowingTaskGroup(of: [Delivery].self) { readers in
                for learner in learners {
                    readers.addTask {
                        var out: [Delivery] = []
                        for try await d in learner.deliveries(after: 0) {
                            out.append(d)
                            if out.count == all.count { break }
                        }
                        return out
                    }
                }
                try await withThrowingTaskGroup(of: Void.self) { submitters in
                    for t in 0..<tasks {
                        submitters.addTask {
                            for v in 0..<perTask { try await client.submit(Array("t\(t)-v\(v)".utf8)) }
                        }
                    }
                    try await submitters.waitForAll()
                }
                return try await readers.reduce(into: []) { $0.append($1) }
            }
            group.cancelAll()
            #expect(received.count == 2)
            expectOneOrder(received[0], values: all)
            #expect(received[0] == received[1])
        }
    }

    @Test func resumesFromTheApplicationsCursorAfterARestart() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let c = test.configuration
        let client = Client(id: 1, configuration: c)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await client.run() }

            // First run: the application applies 30 of the 50 values delivered, then the learner stops.
            var cursor: UInt64 = 0
            var applied: [[UInt8]] = []
            let first = Learner(id: 1, configuration: c)
            let firstRun = Task { try await first.run() }
            for v in 0..<50 { try await client.submit("a\(v)") }
            for try await d in first.deliveries(after: cursor) {
                applied.append(d.value)
                cursor = d.position
                if cursor == 30 { break }
            }
            firstRun.cancel()
            try await firstRun.value

            // While it is down, 50 more are decided; a new learner on the same state resumes after the cursor.
            for v in 0..<50 { try await client.submit("b\(v)") }
            let second = Learner(id: 1, configuration: c)
            group.addTask { try await second.run() }
            for try await d in second.deliveries(after: cursor) {
                #expect(d.position == cursor + 1)
                applied.append(d.value)
                cursor = d.position
                if cursor == 100 { break }
            }
            group.cancelAll()
            #expect(applied == (0..<50).map { Array("a\($0)".utf8) } + (0..<50).map { Array("b\($0)".utf8) })
        }
    }

    @Test func aSlowConsumerHoldsABoundedBufferAndMissesNothing() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let c = test.configuration
        let learner = Learner(id: 1, configuration: c, bufferCapacity: 16)
        let client = Client(id: 1, configuration: c)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await learner.run() }
            group.addTask { try await client.run() }
            let sequence = learner.deliveries(after: 0)
            var iterator = sequence.makeAsyncIterator()
            let values = (0..<2_000).map { Array("slow-\($0)".utf8) }
            try await client.submit(Array("first".utf8))
            try await withThrowingTaskGroup(of: Void.self) { submitters in
                for chunk in stride(from: 0, to: values.count, by: 250) {
                    submitters.addTask { for v in values[chunk..<(chunk + 250)] { try await client.submit(v) } }
                }
                try await submitters.waitForAll()
            }
            while learner.deliveredThrough < 2_001 { try await Task.sleep(for: .milliseconds(10)) }
            // The consumer has not read one value yet: at most 16 of the 2,001 are held in memory.
            #expect(learner.feed.buffered(iterator.subscription) <= 16)
            var rest: [Delivery] = []
            while rest.count < 2_001, let d = try await iterator.next() { rest.append(d) }
            expectOneOrder(rest, values: Set(values + [Array("first".utf8)]))
            group.cancelAll()
        }
    }

    /// `submit(contentsOf:)`: batches from concurrent tasks come back with consecutive ids in their order, and
    /// the learner delivers every value once, in one order, each batch's values in the order given.
    @Test func batchesFromConcurrentTasksInOneOrder() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let c = test.configuration
        let learner = Learner(id: 1, configuration: c)
        let client = Client(id: 1, configuration: c, defaultTimeout: .seconds(120))
        let batches = (0..<4).map { t in (0..<3).map { b in (0..<100).map { Array("t\(t)-b\(b)-v\($0)".utf8) } } }
        let all = batches.flatMap { $0.flatMap { $0 } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await learner.run() }
            group.addTask { try await client.run() }
            try await withThrowingTaskGroup(of: Void.self) { submitters in
                for mine in batches {
                    submitters.addTask {
                        for batch in mine {
                            let ids = try await client.submit(contentsOf: batch)
                            #expect(ids.count == batch.count)
                            #expect(ids.map(\.sequence) == Array(ids[0].sequence ..< ids[0].sequence + UInt64(batch.count)))
                        }
                    }
                }
                try await submitters.waitForAll()
            }
            var delivered: [Delivery] = []
            for try await d in learner.deliveries(after: 0) {
                delivered.append(d)
                if delivered.count == all.count { break }
            }
            expectOneOrder(delivered, values: Set(all))
            let order = Dictionary(uniqueKeysWithValues: delivered.map { ($0.value, $0.position) })
            for batch in batches.flatMap({ $0 }) {
                let positions = batch.map { order[$0]! }
                #expect(positions == positions.sorted())
            }
            // One value over the limit: nothing of its batch is sent.
            let tooLarge = [UInt8](repeating: 1, count: client.maximumValueBytes + 1)
            await #expect(throws: PaxosError.valueTooLarge(size: tooLarge.count, limit: client.maximumValueBytes)) {
                try await client.submit(contentsOf: [Array("fits".utf8), tooLarge])
            }
            #expect(try await client.submit(contentsOf: []).isEmpty)
            try await client.submit("after")
            var iterator = learner.deliveries(after: UInt64(all.count)).makeAsyncIterator()
            #expect(try await iterator.next()?.value == Array("after".utf8))
            group.cancelAll()
        }
    }

    /// Deadlines are kept in one queue per timeout: a short one sent after a long one still expires first.
    @Test(.timeLimit(.minutes(1))) func aShortTimeoutBehindALongOneExpires() async throws {
        try await withClientAlone { client in
            let long = Task { try await client.submit("long", timeout: .seconds(600)) }
            try await Task.sleep(for: .milliseconds(100))
            do {
                try await client.submit(contentsOf: [Array("short".utf8), Array("batch".utf8)], timeout: .milliseconds(200))
                Issue.record("decided with no cluster")
            } catch {
                guard case .noQuorumReachable(let id)? = error as? PaxosError else { throw error }
                #expect(id.sequence == 2)
            }
            // The short queue is gone once empty; new timeouts (and that one again) still get queues of their own.
            for (sequence, milliseconds) in [(UInt64(4), 200), (5, 150)] {
                do {
                    try await client.submit("again", timeout: .milliseconds(milliseconds))
                    Issue.record("decided with no cluster")
                } catch {
                    guard case .noQuorumReachable(let id)? = error as? PaxosError else { throw error }
                    #expect(id.sequence == sequence)
                }
            }
            long.cancel()
            _ = await long.result
        }
    }

    @Test func valueTooLargeIsRefusedAndTheLargestFits() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        var configuration = test.configuration
        // Larger than a datagram (it travels in fragments), small enough for a quick debug build.
        configuration.cluster.maxValueBytes = 100_000
        let c = configuration
        let client = Client(id: 1, configuration: c)
        let limit = client.maximumValueBytes
        #expect(limit == 100_000)
        await #expect(throws: PaxosError.valueTooLarge(size: limit + 1, limit: limit)) {
            try await client.submit([UInt8](repeating: 7, count: limit + 1))
        }
        let learner = Learner(id: 1, configuration: c)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await learner.run() }
            group.addTask { try await client.run() }
            let largest = [UInt8](repeating: 9, count: limit)
            try await client.submit(largest)
            for try await d in learner.deliveries() {
                #expect(d.value == largest)
                break
            }
            group.cancelAll()
        }
    }

    @Test func timesOutWithoutAQuorumAndNamesAConfigurationMismatch() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        var configuration = test.configuration
        configuration.cluster.settings.clientWindow = 4
        let c = configuration
        let client = Client(id: 1, configuration: c)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // One acceptor of three: the proposer can never be elected.
            group.addTask { try await Acceptor(id: 1, configuration: c).run() }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await client.run() }
            do {
                try await client.submit("never", timeout: .milliseconds(300))
                Issue.record("decided without a quorum")
            } catch {
                guard case .noQuorumReachable(let id)? = error as? PaxosError else { throw error }
                #expect(id.client == 1 && id.sequence == 1)
            }
            // A batch three windows long (value 1 still holds a place in the window: three of it are sent), and a
            // value behind it that is never sent: the window never moves, so both time out.
            async let behind: Void = {
                try await Task.sleep(for: .milliseconds(50))
                try await client.submit("behind", timeout: .milliseconds(300))
            }()
            do {
                try await client.submit(contentsOf: (0..<12).map { Array("batch \($0)".utf8) }, timeout: .milliseconds(300))
                Issue.record("decided without a quorum")
            } catch {
                guard case .noQuorumReachable(let id)? = error as? PaxosError else { throw error }
                #expect(id.sequence == 2)
            }
            do {
                try await behind
                Issue.record("decided without a quorum")
            } catch {
                guard case .noQuorumReachable(let id)? = error as? PaxosError else { throw error }
                #expect(id.sequence == 14)
            }
            group.cancelAll()
        }

        // A client configured for five acceptors, beside a three-acceptor cluster whose own client submits:
        // it hears the cluster's decisions, of another configuration, and says so when its value times out.
        var other = c
        other.cluster.settings.acceptorCount = 5
        let foreign = Client(id: 2, configuration: other)
        let native = Client(id: 3, configuration: c)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for id in 1...3 { group.addTask { try await Acceptor(id: UInt32(id), configuration: c).run() } }
            group.addTask { try await Proposer(id: 1, configuration: c).run() }
            group.addTask { try await foreign.run() }
            group.addTask { try await native.run() }
            async let nativeValues: Void = {
                try await Task.sleep(for: .milliseconds(300))
                for v in 0..<5 { try await native.submit("native \(v)") }
            }()
            do {
                try await foreign.submit("mismatch", timeout: .seconds(2))
                Issue.record("decided across configurations")
            } catch {
                guard case .configurationMismatch(let why, _)? = error as? PaxosError else { throw error }
                #expect(why.contains("acceptor-count"))
            }
            try await nativeValues
            group.cancelAll()
        }
    }

    @Test func cancellingASubmissionEndsItsWait() async throws {
        let client = try await withClientAlone { client in
            // The value is sent and waits until its task is cancelled.
            let waiting = Task { try await client.submit("stuck", timeout: .seconds(600)) }
            try await Task.sleep(for: .milliseconds(200))
            waiting.cancel()
            let result = await waiting.result
            guard case .failure(let error) = result, case .cancelled(let id)? = error as? PaxosError else {
                Issue.record("expected a cancellation, got \(result)")
                return
            }
            #expect(id?.sequence == 1)
        }
        // A stopped client refuses at once.
        await #expect(throws: PaxosError.clientNotRunning) { try await client.submit("late") }
    }

    /// Cancelled before its client ran: never sent, so no id. A batch cancelled once sent names its first value;
    /// a value still waiting when the client stops ends with clientNotRunning.
    @Test func cancellingBeforeSendingABatchAfterAndAStop() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let client = Client(id: 1, configuration: test.configuration)
        let queued = Task { try await client.submit("queued", timeout: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(100))
        queued.cancel()
        let early = await queued.result
        guard case .failure(let error) = early, case .cancelled(nil)? = error as? PaxosError else {
            Issue.record("expected a cancellation without an id, got \(early)")
            return
        }
        let left = Task { try await client.submit("left", timeout: .seconds(600)) }
        try await Task.sleep(for: .milliseconds(100))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            // Cancelled once handed to the node; on a loaded machine it may still wait in the inbox after the
            // pause (then it ends unnumbered and the next try waits longer).
            for pause in [300, 1_000, 5_000] {
                let batch = Task { try await client.submit(contentsOf: [Array("a".utf8), Array("b".utf8)], timeout: .seconds(600)) }
                try await Task.sleep(for: .milliseconds(pause))
                batch.cancel()
                let result = await batch.result
                if case .failure(let error) = result, case .cancelled(nil)? = error as? PaxosError, pause < 5_000 { continue }
                guard case .failure(let error) = result, case .cancelled(let id?)? = error as? PaxosError else {
                    Issue.record("expected a cancellation naming the batch's first value, got \(result)")
                    return
                }
                // "left" waited before the run and went first: the batch is values 2 and 3.
                #expect(id.client == 1 && id.sequence == 2)
                break
            }
            // One run at a time: a second is refused and leaves the first running, which still sends (and, with
            // no acceptor, times out) what is submitted after.
            await #expect(throws: PaxosError.startFailed("client 1 is already running")) { try await client.run() }
            do throws(PaxosError) {
                _ = try await client.submit("after", timeout: .milliseconds(200))
                Issue.record("decided without acceptors")
            } catch {
                guard case .noQuorumReachable(let id) = error else { Issue.record("expected a timeout, got \(error)"); return }
                #expect(id.sequence == 4)
            }
        }
        await #expect(throws: PaxosError.clientNotRunning) { try await left.value }
    }

    /// Runs `body` with a client and nothing else of a cluster (nothing is ever decided); returns the client,
    /// stopped.
    @discardableResult
    private func withClientAlone(_ body: @escaping @Sendable (Client) async throws -> Void) async throws -> Client {
        let test = try TestCluster()
        defer { test.remove() }
        let client = Client(id: 1, configuration: test.configuration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            try await body(client)
            group.cancelAll()
        }
        return client
    }

    @Test func runsInAServiceGroupAndStopsWithIt() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let c = test.configuration
        let learner = Learner(id: 1, configuration: c)
        let client = Client(id: 1, configuration: c)
        let services: [any Service] = [Acceptor(id: 1, configuration: c), Acceptor(id: 2, configuration: c),
                                       Acceptor(id: 3, configuration: c), Proposer(id: 1, configuration: c), learner, client]
        let group = ServiceGroup(services: services, logger: c.logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await client.submit("through a service group")
            for try await d in learner.deliveries() {
                #expect(d == Delivery(position: 1, value: Array("through a service group".utf8)))
                break
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // Every role's state is unlocked again: they can run anew (an acceptor starts and stops).
        let again = Task { try await Acceptor(id: 1, configuration: c).run() }
        try await Task.sleep(for: .milliseconds(100))
        again.cancel()
        try await again.value
    }
}
