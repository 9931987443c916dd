/// Every message the roles exchange. Phase names follow "Paxos Made Simple": 1A prepare, 1B promise,
/// 2A accept, 2B accepted.
public enum Message: Hashable, Sendable {
    /// Client → proposers: submissions to broadcast, several per datagram.
    case submit([Submission])
    /// Leader → clients: these submissions are decided (a client stops resubmitting them).
    case chosen([SubmissionID])
    /// 1A, leader → acceptors: promise `ballot` for every instance from `from` on.
    case prepare(ballot: Ballot, from: Instance)
    /// 1B, acceptor → proposers: one chunk of a promise.
    case promise(Promise)
    /// Acceptor → proposers: a prepare or accept was refused because of a higher promise.
    case nack(acceptor: UInt32, promised: Ballot)
    /// 2A, leader → acceptors: accept these proposals in `ballot`.
    case accept(ballot: Ballot, proposals: [InstanceProposal])
    /// 2B, acceptor → learners (and proposers, who listen there): accepted in `ballot`.
    case accepted(acceptor: UInt32, ballot: Ballot, proposals: [InstanceProposal])
    /// Acceptor → learners, answering a catch-up request: what it accepted, each with its own ballot.
    /// Learners count these as 2B votes.
    case replay(acceptor: UInt32, entries: [AcceptedEntry])
    /// Leader → proposers: the leader is alive; standbys stay quiet while they hear this.
    case heartbeat(ballot: Ballot, firstUndecided: Instance)
    /// Learner → acceptors and learners: send me what you know of instances `from ..< to`.
    case catchUp(learner: UInt32, from: Instance, to: Instance)
    /// Learner → learners: decided instances, answering a catch-up request.
    case decided([InstanceProposal])
    /// Learner → proposers: instances from `from` on could not be resolved from acceptors' votes
    /// (their accepted ballots differ); the leader runs phase 1 and 2 over them again.
    case recover(learner: UInt32, from: Instance)
    /// Learner → acceptors: every instance through `delivered` is durably delivered here. Once every
    /// learner reported an instance, acceptors forget it (trim), so their state stays bounded.
    case progress(learner: UInt32, delivered: Instance)
    /// Acceptor → learners and proposers: instances through `through` were delivered by every learner
    /// and forgotten; nothing about them can be asked of this acceptor any more.
    case trimmed(acceptor: UInt32, through: Instance)
}

/// 1B. An acceptor's promise for `ballot`, listing the values it accepted in instances from `from` on.
/// Long lists are split into chunks; a proposer counts the promise only once it holds every chunk.
public struct Promise: Hashable, Sendable {
    public var acceptor: UInt32
    public var ballot: Ballot
    public var from: Instance
    public var chunk: UInt32
    public var chunkCount: UInt32
    /// Instances through this one were delivered by every learner and trimmed: a leader treats them as
    /// decided and never proposes there (0: nothing trimmed).
    public var trimmedThrough: Instance
    public var accepted: [AcceptedEntry]

    public init(acceptor: UInt32, ballot: Ballot, from: Instance, chunk: UInt32, chunkCount: UInt32,
                trimmedThrough: Instance = 0, accepted: [AcceptedEntry]) {
        self.acceptor = acceptor
        self.ballot = ballot
        self.from = from
        self.chunk = chunk
        self.chunkCount = chunkCount
        self.trimmedThrough = trimmedThrough
        self.accepted = accepted
    }
}
