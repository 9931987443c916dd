import DequeModule
import PaxosCore
import Synchronization

/// One stream of submissions of a ``Client`` (``Client/withSubmissions(timeout:capacity:_:outcomes:)``): values
/// handed over one at a time with ``submit(_:)``, which returns at once unless the stream is full, and their
/// outcomes read in the same order from ``Outcomes``.
///
/// It is the client's own submission path: values handed over are numbered, sent (sharing datagrams with every
/// other submitter's), resent and timed out exactly as ``Client/submit(_:timeout:)``'s are, and `client-window`
/// applies to them as to every value. What differs is the waiting: `submit` waits for room in the stream, not
/// for a decision, and the decisions come back in runs, so a steady stream costs no task suspension per value
/// on either side.
///
/// **Backpressure.** At most ``capacity`` values, and ``capacityBytes`` of their bytes (one value at least),
/// are *unread*: handed over with `submit` and their outcome not yet taken by the reader of ``Outcomes``.
/// `submit` suspends while the stream is full and returns once the reader took outcomes enough to bring the
/// unread values down to half the capacity (a high and a low watermark, as NIOAsyncWriter's): a writer that
/// keeps the stream full is woken once per half capacity, not once per run of outcomes, and hands over that
/// many values without a suspension. A reader that stops reading stops the writers, and memory (values waiting
/// to be sent, outcomes waiting to be read) stays bounded. Writers waiting for room get it in the order they came.
///
/// Safe to use from many tasks at once (values then go in the order their `submit` calls took them).
public final class Submissions: Sendable {
    /// How many values may be unread at once (see Backpressure above).
    public let capacity: Int
    /// How many bytes of values may be unread at once; a value larger than this still goes alone.
    public let capacityBytes: Int
    /// Writers that wait for room resume once at most this many values are unread (half the capacity).
    let resumeAt: Int
    /// How long the cluster may take to decide each value once it was sent (as ``Client/submit(_:timeout:)``).
    public let timeout: Duration
    let client: Client

    /// Where a value stands, from when the client's node took it.
    enum Entry {
        /// Sent (or waiting behind the client window) under this id, not yet reported decided.
        case waiting(SubmissionID, bytes: Int)
        case done(Result<SubmissionID, PaxosError>, bytes: Int)
    }

    enum Phase {
        case open
        /// The writing closure returned: no more values; the outcomes end after the last one.
        case finished
        /// No more values, for the reason given to writers (``PaxosError/clientNotRunning`` once the client
        /// stopped, ``PaxosError/cancelled(_:)`` once the reader left).
        case closed(PaxosError)
    }

    /// A writer waiting for room, with its value.
    struct Writer {
        var token: UInt64
        var value: [UInt8]
        /// Resumed with nil once its value is handed over, or with the error that refused it.
        var continuation: UnsafeContinuation<PaxosError?, Never>
    }

    struct State {
        var phase = Phase.open
        /// Values handed over that the client's node has not yet taken (stream position `base + outcomes.count`
        /// on).
        var buffer: [[UInt8]] = []
        /// Whether the stream waits in the client's inbox for its node to take `buffer`.
        var registered = false
        /// The values the node took, from the first whose outcome the reader has not taken; `base` is that
        /// one's position in the stream (a value's position names it in the client's table).
        var outcomes: Deque<Entry> = []
        var base: UInt64 = 0
        /// Bytes of the unread values (`buffer` and `outcomes`).
        var unreadBytes = 0
        var writers: Deque<Writer> = []
        var nextToken: UInt64 = 0
        /// The reader, waiting for an outcome.
        var reader: UnsafeContinuation<Void, Never>?

        var unread: Int { buffer.count + outcomes.count }

        func hasRoom(for bytes: Int, capacity: Int, capacityBytes: Int) -> Bool {
            unread == 0 || (unread < capacity && unreadBytes + bytes <= capacityBytes)
        }

        mutating func takeReader() -> UnsafeContinuation<Void, Never>? {
            defer { reader = nil }
            return reader
        }

        /// Whether the reader has something to take, or an end to see.
        var readable: Bool {
            if case .done = outcomes.first { return true }
            switch phase {
            case .open: return false
            case .finished: return unread == 0
            case .closed: return true
            }
        }
    }

    let state = Mutex(State())

    init(client: Client, timeout: Duration, capacity: Int, capacityBytes: Int) {
        self.client = client
        self.timeout = timeout
        self.capacity = max(capacity, 1)
        self.capacityBytes = max(capacityBytes, 1)
        resumeAt = max(capacity, 1) / 2
    }

    /// Hands `value` to the client, to be submitted after every value handed over before it; returns once it is,
    /// which is at once unless the stream is full (then once the reader of ``Outcomes`` made room). Its outcome
    /// comes in ``Outcomes`` in the same order.
    ///
    /// - Throws: ``PaxosError/valueTooLarge(size:limit:)`` for a value over ``Client/maximumValueBytes``: only
    ///   this value is refused (nothing of it sent, no outcome) and the stream goes on.
    ///   ``PaxosError/cancelled(_:)`` (without an id) when the task is cancelled before the value was handed over
    ///   (while it waited for room, or before the call), when the reader of the outcomes left (it returned or
    ///   threw before the sequence ended, or was cancelled), or after the writing closure returned: the value is
    ///   not handed over and never sent.
    ///   ``PaxosError/clientNotRunning`` once the client stopped (or when it was stopped when the stream began).
    ///   Values handed over earlier are not affected by any of these: each still has its outcome.
    @inlinable
    nonisolated(nonsending)
    public func submit(_ value: [UInt8]) async throws(PaxosError) {
        // Inlined, with everything but the wait for room in a synchronous call: a value admitted at once costs its
        // caller no async call of its own (the task allocator, executor lookups and switches of three such calls
        // per value were ~8% of a one-writer stream's process: BENCHMARKS.md, 2026-12-02 s9).
        if try admit(value) { return }
        try await waitForRoom(value)
    }

    /// Hands `value` over if the stream has room; false if it is full (the caller then waits for room).
    @usableFromInline
    func admit(_ value: [UInt8]) throws(PaxosError) -> Bool {
        let limit = client.maximumValueBytes
        if value.count > limit { throw .valueTooLarge(size: value.count, limit: limit) }
        if Task.isCancelled { throw .cancelled(nil) }
        enum Admission {
            case accepted(register: Bool)
            case refused(PaxosError)
            case full
        }
        let (capacity, capacityBytes) = (capacity, capacityBytes)
        let admission = state.withLock { s -> Admission in
            if let refusal = s.refusal { return .refused(refusal) }
            guard s.writers.isEmpty, s.hasRoom(for: value.count, capacity: capacity, capacityBytes: capacityBytes) else {
                return .full
            }
            s.buffer.append(value)
            s.unreadBytes += value.count
            if s.registered { return .accepted(register: false) }
            s.registered = true
            return .accepted(register: true)
        }
        switch admission {
        case .accepted(let register):
            if register { client.handOver(self) }
            return true
        case .refused(let error):
            throw error
        case .full:
            return false
        }
    }

    /// Hands over the UTF-8 bytes of `value` (as the `[UInt8]` overload).
    nonisolated(nonsending)
    public func submit(_ value: String) async throws(PaxosError) {
        try await submit(Array(value.utf8))
    }

    @usableFromInline
    nonisolated(nonsending)
    func waitForRoom(_ value: [UInt8]) async throws(PaxosError) {
        let token = state.withLock { s in
            s.nextToken += 1
            return s.nextToken
        }
        let (capacity, capacityBytes) = (capacity, capacityBytes)
        let refusal: PaxosError? = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<PaxosError?, Never>) in
                // Checked under the lock the cancellation handler takes: cancelled before (seen here) or after the
                // writer is queued (then the handler finds it).
                let outcome = state.withLock { s -> (PaxosError?, register: Bool)? in
                    if Task.isCancelled { return (.cancelled(nil), false) }
                    if let refusal = s.refusal { return (refusal, false) }
                    if s.writers.isEmpty && s.hasRoom(for: value.count, capacity: capacity, capacityBytes: capacityBytes) {
                        s.buffer.append(value)
                        s.unreadBytes += value.count
                        defer { s.registered = true }
                        return (nil, !s.registered)
                    }
                    s.writers.append(Writer(token: token, value: value, continuation: continuation))
                    return nil
                }
                guard let (refusal, register) = outcome else { return }
                if register { client.handOver(self) }
                continuation.resume(returning: refusal)
            }
        } onCancel: {
            let writer = state.withLock { s -> Writer? in
                guard let index = s.writers.firstIndex(where: { $0.token == token }) else { return nil }
                return s.writers.remove(at: index)
            }
            writer?.continuation.resume(returning: .cancelled(nil))
        }
        if let refusal { throw refusal }
    }

    // MARK: the reader

    /// The outcomes of the values handed over with ``Submissions/submit(_:)``, one each, in the order they were
    /// handed over, whatever the order the cluster decided them in: `.success(id)` once the cluster decided the
    /// value (learners deliver it once), `.failure(error)` when its wait ended without a report of its decision:
    ///
    /// - ``PaxosError/noQuorumReachable(_:)`` or ``PaxosError/configurationMismatch(_:_:)``: not decided within
    ///   ``Submissions/timeout`` of its sending (as for ``Client/submit(_:timeout:)``). Only the wait ended: the
    ///   client's node keeps sending the value until it is decided or the client stops, so it may still be
    ///   decided (its id tells it apart); no second outcome comes for it.
    /// - ``PaxosError/clientNotRunning``: the client stopped first. A value the client's node had taken may
    ///   have been sent, and then may still be decided; one it had not is never sent.
    ///
    /// Outcomes come in runs: the reader takes every outcome ready at once (one lock), and waits only when none
    /// is. The sequence ends once the writing closure returned and every value it handed over has had its outcome
    /// read. Once the client stopped it throws ``PaxosError/clientNotRunning`` after the last outcome instead.
    /// When the reading task is cancelled while it waits for an outcome it throws ``PaxosError/cancelled(_:)``
    /// naming the first value whose outcome it did not read (nil if the client's node had not taken it); the
    /// stream is then closed: values not yet taken by the node are withdrawn (never sent), those taken go on,
    /// and `submit` throws ``PaxosError/cancelled(_:)``. One reader per stream (a second one waiting beside it traps).
    public struct Outcomes: AsyncSequence, Sendable {
        public typealias Element = Result<SubmissionID, PaxosError>
        public typealias Failure = PaxosError
        let submissions: Submissions

        public func makeAsyncIterator() -> Iterator { Iterator(submissions: submissions) }

        public struct Iterator: AsyncIteratorProtocol {
            @usableFromInline let submissions: Submissions
            /// The run taken last, read from `next`.
            @usableFromInline var run: [Element] = []
            @usableFromInline var next = 0
            private var ended = false

            init(submissions: Submissions) { self.submissions = submissions }

            // Inlinable, the next outcome of the run taken costs no async call (as `submit`'s fast path).
            @inlinable
            public mutating func next(isolation actor: isolated (any Actor)?) async throws(PaxosError) -> Element? {
                if next < run.count {
                    defer { next += 1 }
                    return run[next]
                }
                return try await nextRun(isolation: actor)
            }

            /// Takes the next run (waiting for one), and returns its first outcome; nil at the end.
            @usableFromInline
            mutating func nextRun(isolation actor: isolated (any Actor)?) async throws(PaxosError) -> Element? {
                while true {
                    if next < run.count {
                        defer { next += 1 }
                        return run[next]
                    }
                    if ended { return nil }
                    run.removeAll(keepingCapacity: true)
                    next = 0
                    switch submissions.take(into: &run) {
                    case .run:
                        continue
                    case .end:
                        ended = true
                        return nil
                    case .failed(let error):
                        ended = true
                        throw error
                    case .wait:
                        if Task.isCancelled {
                            ended = true
                            throw .cancelled(submissions.readerCancelled())
                        }
                        await submissions.waitForOutcome()
                    }
                }
            }

            public mutating func next() async throws(PaxosError) -> Element? {
                try await next(isolation: nil)
            }
        }
    }

    enum Take {
        case run
        case wait
        case end
        case failed(PaxosError)
    }

    /// Moves every outcome ready from the front into `run`, making that much room for the writers.
    func take(into run: inout [Outcomes.Element]) -> Take {
        let (capacity, capacityBytes, resumeAt) = (capacity, capacityBytes, resumeAt)
        let (take, admitted, register) = state.withLock { s -> (Take, [UnsafeContinuation<PaxosError?, Never>], Bool) in
            var freed = 0
            while case .done(let result, let bytes) = s.outcomes.first {
                run.append(result)
                freed += bytes
                s.outcomes.removeFirst()
            }
            guard !run.isEmpty else {
                switch s.phase {
                case .open: return (.wait, [], false)
                case .finished: return (s.unread == 0 ? .end : .wait, [], false)
                case .closed(let error): return (s.unread == 0 ? .failed(error) : .wait, [], false)
                }
            }
            s.base += UInt64(run.count)
            s.unreadBytes -= freed
            // Room for the writers that waited, in their order, once the stream is down to its low watermark.
            var admitted: [UnsafeContinuation<PaxosError?, Never>] = []
            while let writer = s.writers.first, admitted.count > 0 || s.unread <= resumeAt,
                  s.hasRoom(for: writer.value.count, capacity: capacity, capacityBytes: capacityBytes) {
                s.writers.removeFirst()
                s.buffer.append(writer.value)
                s.unreadBytes += writer.value.count
                admitted.append(writer.continuation)
            }
            let register = !admitted.isEmpty && !s.registered
            if register { s.registered = true }
            return (.run, admitted, register)
        }
        if register { client.handOver(self) }
        for writer in admitted { writer.resume(returning: nil) }
        return take
    }

    /// Returns once there may be something to take, or the task is cancelled.
    nonisolated(nonsending)
    func waitForOutcome() async {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.readable || Task.isCancelled { return true }
                    precondition(s.reader == nil, "two readers of one Submissions.Outcomes")
                    s.reader = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.takeReader() }?.resume()
        }
    }

    /// The reader was cancelled while it waited: the stream closes (what the node has not taken is withdrawn).
    /// Returns the first value it did not read, if the node numbered it.
    func readerCancelled() -> SubmissionID? {
        close(.cancelled(nil), withdraw: true)
    }

    /// The reader returned or threw: a stream not ended is closed as for a cancelled reader. Returns whether it
    /// had not ended (its writer is then stopped).
    @discardableResult
    func readerLeft() -> Bool {
        let ended = state.withLock { s in
            switch s.phase {
            case .open: false
            case .finished: s.unread == 0
            case .closed: true
            }
        }
        if !ended { close(.cancelled(nil), withdraw: true) }
        return !ended
    }

    /// The writing closure returned: no more values.
    func finish() {
        let reader = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            guard case .open = s.phase else { return nil }
            s.phase = .finished
            return s.readable ? s.takeReader() : nil
        }
        reader?.resume()
    }

    /// The client stopped: every value not yet reported gets the outcome ``PaxosError/clientNotRunning``, and
    /// so do the writers that wait.
    func clientStopped() {
        close(.clientNotRunning, withdraw: false)
    }

    /// Closes the stream, refusing its waiting and later writers `error`. The values the node has not taken are
    /// withdrawn (no outcome), or given `error` as their outcome with every value not yet reported (the client
    /// stopped). Returns the first value with no outcome read yet, if numbered.
    @discardableResult
    private func close(_ error: PaxosError, withdraw: Bool) -> SubmissionID? {
        let (first, writers, reader) = state.withLock { s -> (SubmissionID?, Deque<Writer>, UnsafeContinuation<Void, Never>?) in
            var first: SubmissionID?
            if case .waiting(let id, _) = s.outcomes.first { first = id }
            if case .closed = s.phase { return (first, [], nil) }
            // Ended: every value handed over had its outcome read.
            if case .finished = s.phase, s.unread == 0 { return (first, [], nil) }
            s.phase = .closed(error)
            if withdraw {
                for value in s.buffer { s.unreadBytes -= value.count }
                s.buffer = []
            } else {
                for index in s.outcomes.indices {
                    if case .waiting(_, let bytes) = s.outcomes[index] { s.outcomes[index] = .done(.failure(error), bytes: bytes) }
                }
                for value in s.buffer { s.outcomes.append(.done(.failure(error), bytes: value.count)) }
                s.buffer = []
            }
            let writers = s.writers
            s.writers = []
            return (first, writers, s.readable ? s.takeReader() : nil)
        }
        for writer in writers { writer.continuation.resume(returning: error) }
        reader?.resume()
        return first
    }

    // MARK: on the client's node's loop

    /// Moves the values waiting in the stream to the client's node: `first` is the id the first of them gets, the
    /// others the sequence numbers after it; returns them with the stream position of the first.
    func takeBuffer(first: SubmissionID) -> (values: [[UInt8]], position: UInt64) {
        state.withLock { s in
            s.registered = false
            let taken = s.buffer
            s.buffer = []
            s.buffer.reserveCapacity(taken.count)
            let position = s.base + UInt64(s.outcomes.count)
            var id = first
            for value in taken {
                s.outcomes.append(.waiting(id, bytes: value.count))
                id.sequence += 1
            }
            return (taken, position)
        }
    }

    /// The leader reported these values decided (stream positions with their ids, in the order reported).
    func decided(_ positions: [(UInt64, SubmissionID)]) {
        let reader = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            for (position, id) in positions {
                guard position >= s.base, position - s.base < UInt64(s.outcomes.count) else { continue }
                let index = Int(position - s.base)
                guard case .waiting(_, let bytes) = s.outcomes[index] else { continue }
                s.outcomes[index] = .done(.success(id), bytes: bytes)
            }
            return s.readable ? s.takeReader() : nil
        }
        reader?.resume()
    }

    /// The value at `position` timed out.
    func failed(_ position: UInt64, _ error: PaxosError) {
        let reader = state.withLock { s -> UnsafeContinuation<Void, Never>? in
            guard position >= s.base, position - s.base < UInt64(s.outcomes.count) else { return nil }
            let index = Int(position - s.base)
            guard case .waiting(_, let bytes) = s.outcomes[index] else { return nil }
            s.outcomes[index] = .done(.failure(error), bytes: bytes)
            return s.readable ? s.takeReader() : nil
        }
        reader?.resume()
    }
}

extension Submissions.State {
    /// Why a new value is refused, if it is.
    var refusal: PaxosError? {
        switch phase {
        case .open: nil
        case .finished: .cancelled(nil)
        case .closed(let error): error
        }
    }
}
