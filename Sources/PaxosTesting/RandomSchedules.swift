import Foundation
import Synchronization

/// Runs random schedules of the simulator, seed after seed, on threads of their own: what
/// `SimulatorTests.randomSchedules` (debug) and `paxos-fuzz simulate` (release, scripts/test.sh) share.
///
/// Shards run on threads of their own, not on Swift concurrency's cooperative pool: that pool has one thread
/// per core, and two shards holding both for minutes starved every other test (a time limit of 3 minutes fired
/// on a multi-host scenario that had been waiting for a thread all along).
public struct RandomSchedules: Sendable {
    /// The first failure of a shard: its seed, the schedule's settings and what failed.
    public struct Failure: Sendable, CustomStringConvertible {
        public var seed: UInt64
        public var config: String
        public var error: String
        public var description: String {
            "schedule \(config) failed: \(error)\nreplay: \(RandomSchedules.replayCommand(seed))"
        }
    }

    public var count: UInt64
    public var base: UInt64
    public var shards: UInt64

    /// Seeds `base ..< base + count`, shard `k` taking every `shards`-th from `base + k`.
    public init(count: UInt64, base: UInt64 = 1, shards: UInt64 = 2) {
        self.count = count
        self.base = base
        self.shards = max(1, shards)
    }

    /// The one command that replays a seed with a full trace.
    public static func replayCommand(_ seed: UInt64) -> String {
        "PAXOS_SIM_SEED=\(seed) swift test --filter SimulatorTests/replay"
    }

    public struct Outcome: Sendable {
        /// Schedules that ran to the end and passed every check.
        public var ran: UInt64 = 0
        public var messagesDelivered = 0
        /// At most one per shard: a shard stops at its first failing seed.
        public var failures: [Failure] = []
    }

    /// Runs every seed, blocking the caller until every shard is done.
    public func run() -> Outcome {
        let outcome = Shared()
        // Foundation's Thread has no join: each shard signals as its last act.
        let done = DispatchSemaphore(value: 0)
        for shard in 0..<shards {
            Thread { [count, base, shards] in
                var ran: UInt64 = 0
                var messages = 0
                var failure: Failure?
                var seed = base + shard
                while seed < base + count {
                    var sim = Simulation(.random(seed: seed))
                    do {
                        try sim.run()
                    } catch {
                        failure = Failure(seed: seed, config: "\(sim.config)", error: "\(error)")
                        break
                    }
                    messages += sim.messagesDelivered
                    ran += 1
                    seed += shards
                }
                outcome.value.withLock {
                    $0.ran += ran
                    $0.messagesDelivered += messages
                    if let failure { $0.failures.append(failure) }
                }
                done.signal()
            }.start()
        }
        for _ in 0..<shards { done.wait() }
        return outcome.value.withLock { $0 }
    }

    /// What the shards' threads add their results to (a `Mutex` itself cannot be captured: not copyable).
    private final class Shared: Sendable {
        let value = Mutex(Outcome())
    }
}
