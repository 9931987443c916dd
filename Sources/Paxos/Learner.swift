import DequeModule
import PaxosCore
import PaxosNode
import PaxosStore
import ServiceLifecycle
import Synchronization

/// One value of the total order, as a learner delivers it.
public struct Delivery: Sendable, Hashable {
    /// Its place in the order, from 1: every learner of a cluster delivers the same value at the same position.
    public var position: UInt64
    /// The value, exactly as a client submitted it.
    public var value: [UInt8]

    public init(position: UInt64, value: [UInt8]) {
        self.position = position
        self.value = value
    }
}

/// A learner run in-process: it learns the decided values, keeps them in `<state>/learner-<id>.sqlite` in
/// their order, catches up on what it missed while it was down, and hands them to the application through
/// ``deliveries(after:)``.
///
/// ```swift
/// let learner = Learner(id: 1, configuration: configuration)
/// // in one task:
/// try await learner.run()
/// // in another, from the application's own durable cursor:
/// for try await delivery in learner.deliveries(after: cursor) {
///     apply(delivery.value)
///     cursor = delivery.position
/// }
/// ```
///
/// The learner's database is the backlog, so a slow consumer never slows the cluster nor makes this process
/// hold more than a bounded number of values: each ``Deliveries`` iterator buffers at most ``bufferCapacity``
/// deliveries in memory besides the batch it is handing out; past that, what the learner delivers meanwhile is
/// only in its database, and the iterator reads it from there (``bufferCapacity`` values per read) when its
/// consumer gets to it.
public final class Learner: Service, Sendable {
    /// Its id, from 1; two learners of a cluster never share one.
    public let id: UInt32
    public let configuration: PaxosConfiguration
    /// The most deliveries each iterator of ``deliveries(after:)`` holds in memory.
    public let bufferCapacity: Int
    let feed: Feed

    public init(id: UInt32, configuration: PaxosConfiguration, bufferCapacity: Int = 1_024) {
        self.id = id
        self.configuration = configuration
        self.bufferCapacity = max(bufferCapacity, 1)
        feed = Feed(capacity: max(bufferCapacity, 1))
    }

    /// Runs the learner until its task is cancelled or its `ServiceGroup` shuts down gracefully; throws
    /// ``PaxosError`` when it cannot start, or stops by itself (its storage failed, or what it misses was
    /// forgotten by every acceptor: `learner-count` in the config must count every learner).
    public func run() async throws {
        let startup = try configuration.startup(.learner, id)
        let feed = feed
        try await NodeHost.run(startup, configuration: configuration) { runtime, path in
            // Deliveries are handed over after the learner's commit only (the default LearnerPrinting).
            try startup.learnerNode(runtime: runtime, path: path, loaded: { _, state in
                feed.started(path: path, durableThrough: state.nextPosition - 1)
                return LearnerPrinting()
            }, output: { feed.deliver($0) })
        }
    }

    /// The values delivered after `position`, in order, each exactly once: those this learner delivered
    /// before (in an earlier run too) read from its database, then the new ones as they are learned.
    ///
    /// Pass the position of the last value the application applied (its own durable cursor; 0 for all),
    /// and it gets exactly the values after it. The sequence waits while the learner does not run, and never
    /// finishes by itself: cancel the task that iterates it. Any number of sequences may be iterated at once,
    /// each from its own position.
    public func deliveries(after position: UInt64 = 0) -> Deliveries {
        Deliveries(feed: feed, after: position)
    }

    /// The position of the last value this learner made durable (0 until it starts).
    public var deliveredThrough: UInt64 { feed.durableThrough }
}

/// A learner's deliveries from a position on (``Learner/deliveries(after:)``).
public struct Deliveries: AsyncSequence, Sendable {
    public typealias Element = Delivery
    let feed: Feed
    let after: UInt64

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: Feed.Subscription(feed: feed, want: after + 1))
    }

    /// Throws `CancellationError` when its task is cancelled, and the learner database's error if reading
    /// the backlog from it fails.
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: Feed.Subscription
        @usableFromInline var page: Deque<Delivery> = []
        private var reader: LearnerStore?

        init(subscription: Feed.Subscription) { self.subscription = subscription }

        // Inlinable, the next delivery of the page taken costs no async call of its own.
        @inlinable
        public mutating func next() async throws -> Delivery? {
            if let d = page.popFirst() { return d }
            return try await nextPage()
        }

        // What `for try await` calls: without it the standard library's default would wrap `next()`.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Delivery? {
            if let d = page.popFirst() { return d }
            return try await nextPage()
        }

        /// Takes the next page of deliveries (waiting for one), and returns its first.
        @usableFromInline
        nonisolated(nonsending)
        mutating func nextPage() async throws -> Delivery? {
            while true {
                if let d = page.popFirst() { return d }
                try Task.checkCancellation()
                switch subscription.step() {
                case .items(let run):
                    page = run
                case .read(let path, let from, let count):
                    if reader == nil { reader = try LearnerStore(path: path) }
                    let values = try reader!.values(fromPosition: from, limit: count)
                    guard !values.isEmpty else {
                        throw PaxosError.stopped("learner database '\(path)' holds no value at position \(from)", exitStatus: 4)
                    }
                    page = Deque(values.enumerated().map { Delivery(position: from + UInt64($0.offset), value: $0.element) })
                    subscription.advance(to: from + UInt64(values.count))
                case .wait:
                    await subscription.waitForProgress()
                }
            }
        }
    }
}

/// Hands a learner's durable deliveries to the iterators of its ``Deliveries``: each iterator has a bounded
/// buffer, filled only with deliveries that directly follow what it has; anything else it reads from the
/// learner's database.
final class Feed: Sendable {
    struct Sub {
        /// The next position its consumer wants.
        var want: UInt64
        var buffer: Deque<Delivery> = []
        var waiter: CheckedContinuation<Void, Never>?
        var cancelled = false
    }

    struct State {
        var path: String?
        var durableThrough: UInt64 = 0
        var subs: [Int: Sub] = [:]
        var nextSub = 0
    }

    enum Step {
        /// Deliveries from the position wanted on, in order.
        case items(Deque<Delivery>)
        case read(path: String, from: UInt64, count: Int)
        case wait
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) { self.capacity = capacity }

    var durableThrough: UInt64 { state.withLock { $0.durableThrough } }

    /// The learner loaded its state: it has made durable everything up to `durableThrough`.
    func started(path: String, durableThrough: UInt64) {
        let waiters = state.withLock { s in
            s.path = path
            s.durableThrough = durableThrough
            var waiters: [CheckedContinuation<Void, Never>] = []
            for key in Array(s.subs.keys) {
                if let w = s.subs[key]?.takeWaiter() { waiters.append(w) }
            }
            return waiters
        }
        for w in waiters { w.resume() }
    }

    /// Deliveries just made durable, in order (on the learner's loop).
    func deliver(_ deliveries: [PaxosCore.Delivery]) {
        guard let last = deliveries.last else { return }
        let waiters = state.withLock { s in
            s.durableThrough = last.position
            var waiters: [CheckedContinuation<Void, Never>] = []
            for key in s.subs.keys {
                var sub = s.subs[key]!
                for d in deliveries {
                    let expected = sub.buffer.last.map { $0.position + 1 } ?? sub.want
                    if d.position < expected { continue }
                    // A gap (the consumer is behind by more than the buffer) or a full buffer: the rest is
                    // read from the database when the consumer gets there.
                    if d.position > expected || sub.buffer.count >= capacity { break }
                    sub.buffer.append(Delivery(position: d.position, value: d.submission.value))
                }
                if let w = sub.takeWaiter() { waiters.append(w) }
                s.subs[key] = sub
            }
            return waiters
        }
        for w in waiters { w.resume() }
    }

    /// One iterator's registration; removed when the iterator goes away.
    final class Subscription: Sendable {
        let feed: Feed
        let key: Int

        init(feed: Feed, want: UInt64) {
            self.feed = feed
            key = feed.state.withLock { s in
                let key = s.nextSub
                s.nextSub += 1
                s.subs[key] = Sub(want: want)
                return key
            }
        }

        deinit {
            let waiter = feed.state.withLock { $0.subs.removeValue(forKey: key)?.waiter }
            waiter?.resume()
        }

        func step() -> Step {
            feed.state.withLock { s in
                guard var sub = s.subs[key] else { return .wait }
                defer { s.subs[key] = sub }
                while let first = sub.buffer.first, first.position < sub.want { sub.buffer.removeFirst() }
                // The buffer holds consecutive positions: all of it at once, one lock for the lot.
                if let first = sub.buffer.first, first.position == sub.want {
                    let run = sub.buffer
                    sub.buffer = []
                    sub.want = run.last!.position + 1
                    return .items(run)
                }
                if let path = s.path, sub.want <= s.durableThrough {
                    return .read(path: path, from: sub.want, count: Int(min(UInt64(feed.capacity), s.durableThrough - sub.want + 1)))
                }
                return .wait
            }
        }

        /// The iterator read up to (not including) `position` from the database.
        func advance(to position: UInt64) {
            feed.state.withLock { s in
                guard let want = s.subs[key]?.want, want < position else { return }
                s.subs[key]?.want = position
            }
        }

        /// Returns once there may be something to take, or the task is cancelled.
        func waitForProgress() async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let ready = feed.state.withLock { s -> Bool in
                        guard var sub = s.subs[key] else { return true }
                        if sub.cancelled || sub.buffer.first?.position == sub.want || (s.path != nil && sub.want <= s.durableThrough) {
                            return true
                        }
                        sub.waiter = c
                        s.subs[key] = sub
                        return false
                    }
                    if ready { c.resume() }
                }
            } onCancel: {
                let waiter = feed.state.withLock { s -> CheckedContinuation<Void, Never>? in
                    s.subs[key]?.cancelled = true
                    return s.subs[key]?.takeWaiter()
                }
                waiter?.resume()
            }
        }
    }
}

extension Feed.Sub {
    mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
        defer { waiter = nil }
        return waiter
    }
}

extension Feed {
    /// How many deliveries a subscription holds in memory now (for tests).
    func buffered(_ subscription: Subscription) -> Int {
        state.withLock { $0.subs[subscription.key]?.buffer.count ?? 0 }
    }
}
