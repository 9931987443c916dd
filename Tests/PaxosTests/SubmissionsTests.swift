import Foundation
@testable import Paxos
import Synchronization
import Testing

/// ``Client/withSubmissions(timeout:capacity:_:outcomes:)``: values handed over one at a time through a stream,
/// their outcomes read in order, on a real in-process cluster (or a client alone, where nothing is decided).
@Suite(.serialized) struct SubmissionsTests {
    /// Waits (no time limit of its own: the test's) until `condition` holds.
    func eventually(_ condition: () -> Bool) async throws {
        while !condition() { try await Task.sleep(for: .milliseconds(5)) }
    }

    /// One stream of 3,000 values from one task with room for 100 unread (so its writer waits for room many
    /// times), beside plain `submit`s from another task, and one value too large in the middle: every value handed
    /// over has one outcome, in the order handed over (their ids increase), all decided; the learner delivers
    /// each value once and nothing of the value refused. (Not checked: that it delivers the stream's values in the
    /// order handed over. They are sent in that order, but a value resent after a lost datagram may be decided
    /// after later ones.)
    @Test(.timeLimit(.minutes(2))) func outcomesInOrderAndEveryValueDeliveredOnce() async throws {
        try await withCluster { client, learner in
            let count = 3_000
            let tooLarge = [UInt8](repeating: 0x2A, count: client.maximumValueBytes + 1)
            let streamed = (0..<count).map { Array("s\($0)".utf8) }
            let single = (0..<20).map { Array("p\($0)".utf8) }
            async let plain: Void = { for value in single { try await client.submit(value) } }()
            let outcomes = try await client.withSubmissions(capacity: 100) { submissions in
                for (index, value) in streamed.enumerated() {
                    try await submissions.submit(value)
                    if index == count / 2 {
                        await #expect(throws: PaxosError.valueTooLarge(size: tooLarge.count, limit: client.maximumValueBytes)) {
                            try await submissions.submit(tooLarge)
                        }
                    }
                }
            } outcomes: { outcomes in
                var all: [Result<SubmissionID, PaxosError>] = []
                for try await outcome in outcomes { all.append(outcome) }
                return all
            }
            try await plain
            let ids = try outcomes.map { try $0.get() }
            #expect(ids.count == count)
            #expect(zip(ids, ids.dropFirst()).allSatisfy { $0.sequence < $1.sequence })
            var delivered: [[UInt8]] = []
            for try await d in learner.deliveries(after: 0) {
                delivered.append(d.value)
                if delivered.count == count + single.count { break }
            }
            #expect(Set(delivered) == Set(streamed + single))
            #expect(Set(delivered).count == delivered.count)
            #expect(!delivered.contains(tooLarge))
        }
    }

    /// The stream holds at most `capacity` values whose outcome was not read, decided or not: with a reader that
    /// has not begun, the writer's ninth value waits, and only eight reach the client's node, even once all eight
    /// are decided. Reading makes room; every outcome comes, in order. Then a byte bound of 4 × `client-window`
    /// bytes: four values of 1,000 bytes fit in 4,000, a fifth waits; a value larger than that goes alone.
    @Test(.timeLimit(.minutes(2))) func backpressureBoundsWhatIsHandedOver() async throws {
        try await withCluster(configure: { $0.cluster.settings.clientWindowBytes = 1_000 }) { client, _ in
            let outcomes = try await client.withSubmissions(capacity: 8) { submissions in
                for v in 0..<20 { try await submissions.submit("v\(v)") }
            } outcomes: { outcomes in
                let s = outcomes.submissions
                // (Or more unread than the capacity, or the writer done: then the checks below fail.)
                try await eventually { s.state.withLock { $0.writers.count == 1 || $0.unread > 8 || $0.refusal != nil } }
                // All eight decided, none read: still full, the ninth still waits.
                try await eventually {
                    s.state.withLock { s in s.outcomes.count >= 8 && s.outcomes.allSatisfy { if case .done(.success, _) = $0 { true } else { false } } }
                }
                #expect(s.state.withLock { ($0.unread, $0.outcomes.count, $0.writers.count) } == (8, 8, 1))
                #expect(client.table.withLock { $0.nextSequence } == 9)
                var all: [SubmissionID] = []
                for try await outcome in outcomes { all.append(try outcome.get()) }
                return all
            }
            #expect(outcomes.map(\.sequence) == Array(1...20))

            let value = [UInt8](repeating: 7, count: 1_000)
            let big = [UInt8](repeating: 8, count: 5_000)
            let sizes = try await client.withSubmissions(capacity: 100) { submissions in
                for _ in 0..<6 { try await submissions.submit(value) }
                try await submissions.submit(big)
                try await submissions.submit(value)
            } outcomes: { outcomes in
                let s = outcomes.submissions
                try await eventually { s.state.withLock { $0.writers.count == 1 || $0.unread > 4 || $0.refusal != nil } }
                #expect(s.state.withLock { ($0.unread, $0.unreadBytes) } == (4, 4_000))
                var iterator = outcomes.makeAsyncIterator()
                var read = 0
                // Read until the big value is the only one unread: it went alone.
                while read < 6, try await iterator.next() != nil { read += 1 }
                try await eventually { s.state.withLock { ($0.unread == 1 && $0.writers.count == 1) || $0.refusal != nil } }
                #expect(s.state.withLock { $0.unreadBytes } == 5_000)
                while try await iterator.next() != nil { read += 1 }
                return read
            }
            #expect(sizes == 8)
        }
    }

    /// Driven by hand on a client that never runs (the test plays its node, as ClientDeadlineTests do): a writer
    /// waiting for room resumes only once the reader brought the unread values down to half the capacity, then
    /// fills the stream again in one go; outcomes come in order, as the node reported them, in runs.
    @Test(.timeLimit(.minutes(1))) func aWaitingWriterResumesAtHalfTheCapacity() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let client = Client(id: 1, configuration: test.configuration)
        final class Shared: Sendable {
            let session = Mutex<Submissions?>(nil)
            let read = Mutex<[SubmissionID]>([])
        }
        let shared = Shared()
        let stream = Task {
            try await client.withSubmissions(capacity: 8) { submissions in
                shared.session.withLock { $0 = submissions }
                for v in 0..<14 { try await submissions.submit("v\(v)") }
            } outcomes: { outcomes in
                for try await outcome in outcomes { shared.read.withLock { $0.append(try! outcome.get()) } }
            }
        }
        func ids(_ sequences: ClosedRange<UInt64>) -> [SubmissionID] {
            sequences.map { SubmissionID(client: 0, incarnation: 0, sequence: $0) }
        }
        func state() -> (unread: Int, waiting: Int) {
            shared.session.withLock { $0!.state.withLock { ($0.unread, $0.writers.count) } }
        }
        try await eventually { shared.session.withLock { $0 != nil } && state() == (8, 1) }
        var values: [[UInt8]] = []
        client.takeQueue(into: &values)
        #expect(values.count == 8)
        // Three read: five unread, above the low watermark of four: the writer still waits.
        client.decided(ids(1...3))
        try await eventually { shared.read.withLock { $0.count } == 3 }
        #expect(state() == (5, 1))
        // The fourth: down to four, the writer resumes and fills the stream (8 unread), its ninth value waiting.
        client.decided(ids(4...4))
        try await eventually { shared.read.withLock { $0.count } == 4 && state() == (8, 1) }
        values = []
        client.takeQueue(into: &values)
        #expect(values.map { String(decoding: $0, as: UTF8.self) } == (8..<12).map { "v\($0)" })
        // Decided out of order: the outcomes still come in order (6 to 12 wait for 5).
        client.decided(ids(6...12))
        #expect(state() == (8, 1))
        client.decided(ids(5...5))
        try await eventually { shared.read.withLock { $0.count } == 12 && state() == (2, 0) }
        values = []
        client.takeQueue(into: &values)
        client.decided(ids(13...14))
        try await stream.value
        #expect(shared.read.withLock { $0 } == ids(1...14))
    }

    /// A value refused to a cancelled task is not handed over and has no outcome; the stream goes on.
    @Test(.timeLimit(.minutes(2))) func aCancelledWriterHandsNothingOver() async throws {
        try await withCluster { client, learner in
            let outcomes = try await client.withSubmissions { submissions in
                for v in 0..<3 { try await submissions.submit("before \(v)") }
                let cancelled = Task {
                    withUnsafeCurrentTask { $0?.cancel() }
                    try await submissions.submit("cancelled")
                }
                await #expect(throws: PaxosError.cancelled(nil)) { try await cancelled.value }
                for v in 0..<2 { try await submissions.submit("after \(v)") }
            } outcomes: { outcomes in
                var all: [SubmissionID] = []
                for try await outcome in outcomes { all.append(try outcome.get()) }
                return all
            }
            #expect(outcomes.map(\.sequence) == Array(1...5))
            var delivered: [String] = []
            for try await d in learner.deliveries(after: 0) {
                delivered.append(String(decoding: d.value, as: UTF8.self))
                if delivered.count == 5 { break }
            }
            // (As a set: a value resent after a lost datagram may be decided after a later one.)
            #expect(delivered.sorted() == ["after 0", "after 1", "before 0", "before 1", "before 2"])
        }
    }

    /// Nothing decided (no acceptors): cancelling the task that reads ends the stream with the reader's
    /// cancellation naming the first value it did not read; the writer waiting for room is refused; the values
    /// handed over stay with the client's node, which keeps sending them.
    @Test(.timeLimit(.minutes(1))) func cancellationEndsTheStreamAndLeavesWhatWasHandedOver() async throws {
        try await withCluster(acceptors: false) { client, _ in
            let writer = Mutex<Result<Void, PaxosError>?>(nil)
            let stream = Task {
                try await client.withSubmissions(capacity: 4) { submissions in
                    do {
                        for v in 0..<10 { try await submissions.submit("v\(v)") }
                        writer.withLock { $0 = .success(()) }
                    } catch {
                        writer.withLock { $0 = .failure(error as! PaxosError) }
                        throw error
                    }
                } outcomes: { outcomes in
                    for try await _ in outcomes { Issue.record("an outcome without a cluster") }
                }
            }
            try await eventually { client.table.withLock { $0.nextSequence >= 5 } }
            stream.cancel()
            let result = await stream.result
            guard case .failure(let error) = result, case .cancelled(let id?)? = error as? PaxosError else {
                Issue.record("expected a cancellation naming a value, got \(result)")
                return
            }
            #expect(id.sequence == 1)
            guard case .failure(.cancelled(nil))? = writer.withLock({ $0 }) else {
                Issue.record("expected the writer refused, got \(String(describing: writer.withLock { $0 }))")
                return
            }
            // The four values handed over still wait with the node (its slots), which keeps sending them.
            #expect(client.table.withLock { t in t.sent.filter { if case .stream = $0 { true } else { false } }.count } == 4)
            #expect(client.inbox.withLock { $0.sessions.isEmpty })
        }
    }

    /// Nothing decided: values time out one by one with the error `submit` gives, in order, and the outcomes
    /// end normally once the writer is done. Then the client stops under a stream: the values not yet reported
    /// get `clientNotRunning`, and so do the waiting writer and the sequence after them; a stream begun on the
    /// stopped client is refused at once.
    @Test(.timeLimit(.minutes(1))) func timeoutsAndAStopEndValuesWithTheirErrors() async throws {
        let test = try TestCluster()
        defer { test.remove() }
        let client = Client(id: 1, configuration: test.configuration)
        let run = Task { try await client.run() }
        let timedOut = try await client.withSubmissions(timeout: .milliseconds(100)) { submissions in
            for v in 0..<3 { try await submissions.submit("late \(v)") }
        } outcomes: { outcomes in
            var all: [Result<SubmissionID, PaxosError>] = []
            for try await outcome in outcomes { all.append(outcome) }
            return all
        }
        #expect(timedOut.map { (try? $0.get()) == nil } == [true, true, true])
        #expect(timedOut.map { (r: Result<SubmissionID, PaxosError>) -> UInt64 in if case .failure(.noQuorumReachable(let id)) = r { id.sequence } else { 0 } } == [1, 2, 3])

        let writer = Mutex<PaxosError?>(nil)
        let read = Mutex<[Result<SubmissionID, PaxosError>]>([])
        let stream = Task {
            try await client.withSubmissions(capacity: 8) { submissions in
                do {
                    for v in 0..<20 { try await submissions.submit("v\(v)") }
                } catch {
                    writer.withLock { $0 = error as? PaxosError }
                    throw error
                }
            } outcomes: { outcomes in
                for try await outcome in outcomes { read.withLock { $0.append(outcome) } }
            }
        }
        try await eventually { client.table.withLock { $0.nextSequence >= 12 } }
        run.cancel()
        _ = await run.result
        let result = await stream.result
        guard case .failure(let error) = result, case .clientNotRunning? = error as? PaxosError else {
            Issue.record("expected clientNotRunning, got \(result)")
            return
        }
        #expect(writer.withLock { $0 } == .clientNotRunning)
        #expect(read.withLock { $0 } == Array(repeating: .failure(.clientNotRunning), count: 8))

        let refused = await #expect(throws: PaxosError.self) {
            try await client.withSubmissions { submissions in
                try await submissions.submit("too late")
            } outcomes: { outcomes in
                for try await _ in outcomes {}
            }
        }
        #expect(refused == .clientNotRunning)
    }
}
