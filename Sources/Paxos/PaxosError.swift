/// What the library's roles and clients throw.
public enum PaxosError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The value is larger than this cluster can carry (``PaxosConfiguration/maximumValueBytes``); it was not
    /// submitted.
    case valueTooLarge(size: Int, limit: Int)
    /// The value was not decided within the submission's timeout (``Client/submit(_:timeout:)`` says when that
    /// runs): no proposer with a majority of acceptors answered. Only the wait ended: the client's node keeps
    /// the value and goes on sending it until it is decided or the client stops, so it may still be decided
    /// (a learner then delivers it once); its id tells it apart. For a batch, the id names its first value not
    /// reported decided: those before it were decided, it and those after it may still be.
    case noQuorumReachable(SubmissionID)
    /// Not decided within the timeout, and what was heard came from processes with other cluster settings
    /// (`acceptor-count`, `learner-count`): the message names both. As for ``noQuorumReachable(_:)``, the
    /// value may still be decided later.
    case configurationMismatch(String, SubmissionID)
    /// The submitting task was cancelled before the value was reported decided (a cancellation that comes
    /// after it changes nothing: the submission returns its ids).
    ///
    /// Without an id the value was still waiting in this process to be handed to the client's node: it was
    /// withdrawn and is never sent. With an id it had been handed to the node, which numbered it and sends it
    /// (at once, or when the client window lets it) and resends it until the leader reports it decided or the
    /// client stops; the cancellation ends only the wait, so the value may still be decided, and a learner then
    /// delivers it once. For a batch, the id names its first value not reported decided: those before it were
    /// decided, it and those after it may still be.
    case cancelled(SubmissionID?)
    /// The client does not run (its ``Client/run()`` returned or threw, or never started and stopped), or it
    /// stopped while the value waited. A value handed to the client's node before the stop may have been sent,
    /// and then may still be decided.
    case clientNotRunning
    /// The configuration is unusable: a config file that does not parse, an id out of range, a short key.
    case invalidConfiguration(String)
    /// The role could not start: its state is locked by another run, its database is damaged or newer, its
    /// sockets cannot be opened.
    case startFailed(String)
    /// The role stopped by itself: its storage failed (exit status 4 for `paxos`), a newer process took its
    /// role and id (5), a learner can never catch up (6).
    case stopped(String, exitStatus: Int32)

    public var description: String {
        switch self {
        case .valueTooLarge(let size, let limit): "value of \(size) bytes is larger than the cluster's limit of \(limit) bytes"
        case .noQuorumReachable(let id): "value \(id) not decided in time: no proposer with a quorum of acceptors answered"
        case .configurationMismatch(let why, let id): "value \(id) not decided in time: \(why)"
        case .cancelled(let id): id.map { "submission \($0) cancelled" } ?? "submission cancelled before it was sent"
        case .clientNotRunning: "the client does not run"
        case .invalidConfiguration(let why), .startFailed(let why): why
        case .stopped(let why, _): why
        }
    }
}
