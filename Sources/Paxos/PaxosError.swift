/// What the library's roles and clients throw.
public enum PaxosError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The value is larger than this cluster can carry (``PaxosConfiguration/maximumValueBytes``); it was not
    /// submitted.
    case valueTooLarge(size: Int, limit: Int)
    /// The value was not decided within the submission's timeout: no proposer with a majority of acceptors
    /// answered. The value was submitted and may still be decided later (a learner then delivers it once);
    /// its id tells it apart.
    case noQuorumReachable(SubmissionID)
    /// Not decided within the timeout, and what was heard came from processes with other cluster settings
    /// (`acceptor-count`, `learner-count`): the message names both. The value may still be decided later.
    case configurationMismatch(String, SubmissionID)
    /// The submitting task was cancelled. With an id the value had been sent and may still be decided;
    /// without one it never left this process.
    case cancelled(SubmissionID?)
    /// The client does not run (its ``Client/run()`` returned or threw), or stopped while the value waited.
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
