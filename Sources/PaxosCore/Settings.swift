/// Protocol parameters shared by every role of a cluster. Durations are in ticks: the shell decides how
/// long a tick is (10 ms by default), the simulator advances ticks as it pleases.
public struct ProtocolSettings: Hashable, Sendable {
    /// The configured number of acceptors. A quorum is a majority of this number, whatever number of
    /// acceptors actually runs: with one of three alive nothing may be decided.
    public var acceptorCount = Int(ClusterFingerprint.defaultSettings.acceptorCount)
    /// Largest datagram any role sends; longer lists are split into several messages.
    public var maxDatagramBytes: Int = 60_000
    /// Largest total encoded size of the submissions batched into one instance.
    public var maxBatchBytes: Int = 8_000
    /// Instances a leader keeps in flight (proposed, not yet known decided).
    public var window: Int = 256
    /// ... and about this many bytes of proposals in flight (one instance at least): 256 values of 1 MiB
    /// at once would overflow every receiver's socket buffer.
    public var windowBytes: Int = 2 << 20
    /// A leader re-sends the 2A of an instance not decided after this long; with fast retransmission on, after
    /// its estimate of a 2A's round trip (at least `fastRetryTicks`), which this bounds.
    public var acceptRetryTicks: UInt64 = 20
    /// Fast retransmission (0: off): a leader re-sends the 2A of an undecided instance this long after
    /// sending it once a later instance of its own was decided, and a client resubmits a value this long
    /// after submitting it once the leader reported a later value of its own decided. On a lossless
    /// network instances and values are decided about in order, so one overtaken was most likely lost:
    /// it need not wait for `acceptRetryTicks` or `clientRetryTicks`, which still cover the last ones.
    public var fastRetryTicks: UInt64 = 3
    /// A leader repeats what it reported chosen on each of the next this many ticks (0: never). A client hears
    /// of its values' decisions only through these reports, and one whose whole window was in a lost report has
    /// no later value decided to notice the loss by (fast retransmission): it would wait `clientRetryTicks`
    /// and resubmit values already decided. With loss on every datagram at 10%, both repeats lost is 1 in 1,000.
    public var chosenRepeatTicks: UInt64 = 2
    /// A candidate re-sends its prepare after this long without a quorum of promises.
    public var prepareRetryTicks: UInt64 = 20
    /// A leader multicasts a heartbeat to the proposers this often.
    public var heartbeatTicks: UInt64 = 10
    /// A standby that hears nothing from a leader this long starts an election.
    public var leaderTimeoutTicks: UInt64 = 50
    /// Upper bound of the random delay added to elections, so competing proposers do not livelock.
    public var electionBackoffTicks: UInt64 = 30
    /// A client resubmits a value not known decided after this long; with fast retransmission on, after its
    /// estimate of a submission's round trip (at least `fastRetryTicks`), which this bounds.
    public var clientRetryTicks: UInt64 = 50
    /// Submissions a client keeps outstanding at once.
    public var clientWindow: Int = 2_048
    /// ... and at most this many bytes of values (one value at least, whatever its size).
    public var clientWindowBytes: Int = 8 << 20
    /// Submissions a leader queues before it drops new ones (clients resubmit them).
    public var maxPending: Int = 1_000_000
    /// A learner that misses an instance while later ones are known asks for it after this long.
    public var catchUpDelayTicks: UInt64 = 5
    /// A learner repeats an unanswered catch-up request after this long.
    public var catchUpRetryTicks: UInt64 = 10
    /// An idle learner probes for instances it may have missed this often (a learner that starts after
    /// everything was decided hears nothing otherwise).
    public var probeTicks: UInt64 = 100
    /// A learner whose gap does not close for this long asks the leader to re-run the instances.
    public var recoverTicks: UInt64 = 100
    /// Instances asked for, or served, per catch-up request.
    public var catchUpChunk: Int = 512
    /// ... and at most about this many bytes of values per answer (one instance at least): 512 values of
    /// 1 MiB answered at once overflowed every answerer's send queue (16 MiB) and the learner's socket
    /// buffer, and the learner got almost nothing. A learner asks for the rest once it used what came.
    public var catchUpBytes: Int = 1 << 20
    /// Decided instances a learner keeps in memory to serve other learners' catch-up requests (older
    /// ones are served by the acceptors until every learner has them).
    public var learnerServeCache: Int = 4_096
    /// ... and at most about this many bytes of them (with big values, far fewer than `learnerServeCache`).
    public var learnerServeCacheBytes: Int = 64 << 20
    /// The configured number of learners (ids 1...learnerCount). Acceptors trim an instance once every
    /// one of them reported it delivered; 0 never trims.
    public var learnerCount = Int(ClusterFingerprint.defaultSettings.learnerCount)
    /// A learner reports its delivered prefix to the acceptors this often.
    public var progressTicks: UInt64 = 100
    /// Flow control: a leader proposes no fresh instance more than this many past the delivered prefix
    /// of the slowest learner that keeps up (see `Proposer.flowLimit`; 0: no bound). Learners report
    /// their durable delivered prefix to the proposers as it advances, so the cluster decides no faster
    /// than its learners absorb, instead of flooding their receive buffers and letting them lag.
    public var flowLead: Int = 32
    /// A learner whose delivered prefix the leader has not seen advance for this long no longer bounds it: a
    /// dead or stuck learner holds the cluster back this long at most. Learners repeat their report on every
    /// tick for this long after they last delivered, so a lost report costs a tick, not this.
    public var flowStaleTicks: UInt64 = 20
    /// Acceptors trim in stretches of at least this many instances (or everything they hold).
    public var trimBatch: Int = 1_024
    /// Each burst's sends go out coalesced (``Paxos/coalesced(_:settings:)``): an acceptor's 2Bs of one
    /// ballot in one datagram, a leader's 2As and `chosen` reports likewise, instead of one message per
    /// input (2.3–2.7× fewer datagrams at 10,000 values/s, BENCHMARKS.md). The simulator draws both.
    public var coalesceSends = true

    /// A blank acceptor (one that never promised anything) repeats its request for the others' state
    /// this often until it has recovered.
    public var recoverStateRetryTicks: UInt64 = 20
    /// A candidate that has not completed phase 1 after this many prepare retries gives up its ballot
    /// and stands for election again with a higher one (after a random backoff).
    public var prepareAttempts: Int = 4
    /// An acceptor tells the other acceptors it is there this often (see `Message.present`).
    public var presenceTicks: UInt64 = 100

    public init() {}

    /// What every process of the cluster must agree on; carried by every datagram.
    public var fingerprint: ClusterFingerprint {
        ClusterFingerprint(acceptorCount: UInt32(clamping: acceptorCount), learnerCount: UInt32(clamping: learnerCount))
    }

    /// A majority of the configured acceptors.
    public var quorum: Int { acceptorCount / 2 + 1 }

    /// Acceptor ids run from 1 to `acceptorCount`; messages claiming any other id are ignored.
    public func isAcceptor(_ id: UInt32) -> Bool { id >= 1 && Int(id) <= acceptorCount }

    /// Bytes available for list items in one datagram.
    var datagramPayloadBudget: Int { max(maxDatagramBytes - Wire.envelopeAllowance, 64) }
}

/// SplitMix64: a tiny, seedable generator, so the core's randomness (election backoff) is replayable.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The shortest prefix of `items` whose encoded sizes reach `budget` bytes (all of them if they do not): an
/// answer cut short always reaches the budget, which is how its receiver tells it was cut.
func prefix<T>(_ items: [T], reaching budget: Int, size: (T) -> Int) -> [T] {
    var used = 0
    for (k, item) in items.enumerated() {
        used += size(item)
        if used >= budget { return Array(items[...k]) }
    }
    return items
}

/// Splits items into consecutive groups whose encoded sizes stay within `budget` bytes. An item larger
/// than the budget travels alone.
func chunked<T>(_ items: [T], budget: Int, maxCount: Int = .max, size: (T) -> Int) -> [[T]] {
    var chunks: [[T]] = []
    var current: [T] = []
    var used = 0
    for item in items {
        let s = size(item)
        if !current.isEmpty && (used + s > budget || current.count >= maxCount) {
            chunks.append(current)
            current = []
            used = 0
        }
        current.append(item)
        used += s
    }
    if !current.isEmpty { chunks.append(current) }
    return chunks
}
