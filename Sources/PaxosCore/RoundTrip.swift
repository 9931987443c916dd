/// How long a round trip takes — a leader's 2A to its decision, a client's submission to the report of its
/// decision — estimated as TCP estimates its retransmission timeout (RFC 6298): a smoothed mean and mean
/// deviation of samples taken only from what was sent once (a decision after a re-send could answer either
/// sending), in ticks.
///
/// A retry waits `timeout`: a few ticks when decisions come quickly (a datagram lost under load is re-sent
/// then, not after the long fixed retry), and longer when round trips grow (big values, a slow disk), where a
/// fixed short retry would re-send what is only slow. As in TCP, each tick on which something timed out doubles
/// the wait until a round trip is timed again: round trips that grow faster than the estimate follows them (a
/// disk stalling under big values, a client's values queueing at the leader behind big ones) do not have
/// everything in flight re-sent again and again.
struct RoundTrip: Hashable, Sendable {
    /// Smoothed round trip and its mean deviation, in 1/256 of a tick (nil: no sample yet): eighths, as RFC 6298's
    /// gains, would leave the mean stuck up to 7/8 of a tick above steady round trips (integer division).
    private var smoothed: UInt64?
    private var deviation: UInt64 = 0
    /// Timeouts since the last sample (the wait is doubled this many times).
    private var backoff: UInt64 = 0

    /// Something timed out (once per tick, however many): the next waits are twice as long.
    mutating func timedOut() { backoff = min(backoff + 1, 16) }

    /// A round trip of `ticks` (from a first sending).
    mutating func sample(_ ticks: UInt64) {
        backoff = 0
        let r = min(ticks, 1 << 40) << 8
        guard let s = smoothed else {
            smoothed = r
            deviation = r / 2
            return
        }
        let difference = s > r ? s - r : r - s
        deviation = deviation - deviation / 4 + difference / 4
        smoothed = s - s / 8 + r / 8
    }

    /// How long to wait before re-sending: smoothed + 4 × deviation, rounded up, at least `floor`, doubled for
    /// each timeout since the last sample, at most `ceiling` (`ceiling` until there is a sample). The floor covers
    /// the tick's coarseness: a sample of 0 ticks is a round trip of up to one.
    func timeout(floor: UInt64, ceiling: UInt64) -> UInt64 {
        guard let s = smoothed else { return ceiling }
        let estimate = max((s + 4 * deviation + 255) >> 8, floor)
        return min(estimate << backoff, ceiling)
    }
}
