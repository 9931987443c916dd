/// Every message the roles exchange. Phase names follow "Paxos Made Simple": 1A prepare, 1B promise,
/// 2A accept, 2B accepted.
public enum Message: Hashable, Sendable {
    /// Client → proposers: submissions to broadcast, several per datagram.
    case submit([Submission])
    /// Leader → clients: these submissions are decided (a client stops resubmitting them), as runs of
    /// consecutive sequence numbers.
    case chosen([ChosenRun])
    /// 1A, leader → acceptors: promise `ballot` for every instance from `from` on.
    case prepare(ballot: Ballot, from: Instance)
    /// 1B, acceptor → proposers: one chunk of a promise.
    case promise(Promise)
    /// Acceptor → proposers: a prepare or accept was refused because of a higher promise.
    case nack(acceptor: UInt32, promised: Ballot)
    /// 2A, leader → acceptors: accept these proposals in `ballot`. `decidedThrough` is the leader's
    /// decided prefix: acceptors trim no further than a leader said was decided, so forged learner
    /// progress alone cannot make them forget an undecided instance.
    case accept(ballot: Ballot, proposals: [InstanceProposal], decidedThrough: Instance = 0)
    /// 2B, acceptor → learners (and proposers, who listen there): accepted in `ballot`, each instance
    /// named with the ``Wire/digest(of:)`` of its proposal instead of the proposal itself. Learners take
    /// the values from the leader's 2A (they listen to the acceptors' group for it) or, if they missed
    /// it, from a catch-up answer; a learner delivers a value only once a quorum voted for (instance,
    /// ballot, digest) and the value it holds has that digest.
    case accepted(acceptor: UInt32, ballot: Ballot, votes: [Vote])
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
    /// Blank acceptor → acceptors: I have no state (my disk was lost, or the cluster is new); send me
    /// yours, after raising your promise to `barrier` (`.zero`: only tell me what you hold).
    /// `request` is drawn anew for each step of a recovery and echoed by the answers: an answer to an
    /// earlier request (replayed, or delayed past a restart) is never taken for a current one.
    case recoverState(acceptor: UInt32, barrier: Ballot, request: UInt64)
    /// Acceptor → acceptors, answering `recoverState`: one chunk of its whole state. `ballot` is its
    /// promise when it answered, `from` the first instance it still holds (0: only the promise is
    /// told). `recovering`: it has no state of its own either (it holds nothing and never voted).
    case acceptorState(Promise, recovering: Bool, request: UInt64)
    /// Acceptor → acceptors, now and then: its header, so that a second process started with this
    /// acceptor's id hears of the first (and the older one yields) within a second; and its promise, so
    /// that an acceptor without state learns the cluster has history even if its answers are lost.
    case present(acceptor: UInt32, promised: Ballot = .zero)
}

/// 1B. An acceptor's promise for `ballot`, listing the values it accepted in instances from `from` on.
/// Long lists are split into chunks; a proposer counts the promise only once it holds every chunk of
/// ONE answer. An acceptor answers a repeated prepare from its state at that moment, which a trim may
/// have changed, so chunks of two answers do not fit together: each answer carries its own random
/// `answer` label, and chunks are only ever combined with chunks of the same label.
public struct Promise: Hashable, Sendable {
    public var acceptor: UInt32
    public var ballot: Ballot
    public var from: Instance
    /// Labels one answer; drawn at random by the acceptor for each answer it gives.
    public var answer: UInt64
    public var chunk: UInt32
    public var chunkCount: UInt32
    /// Instances through this one were delivered by every learner and trimmed: a leader treats them as
    /// decided and never proposes there (0: nothing trimmed).
    public var trimmedThrough: Instance
    public var accepted: [AcceptedEntry]

    public init(acceptor: UInt32, ballot: Ballot, from: Instance, answer: UInt64 = 0, chunk: UInt32, chunkCount: UInt32,
                trimmedThrough: Instance = 0, accepted: [AcceptedEntry]) {
        self.acceptor = acceptor
        self.ballot = ballot
        self.from = from
        self.answer = answer
        self.chunk = chunk
        self.chunkCount = chunkCount
        self.trimmedThrough = trimmedThrough
        self.accepted = accepted
    }
}

extension Message {
    /// The 2B of `acceptor` for `proposals` in `ballot`: each instance with its proposal's digest.
    public static func accepted(acceptor: UInt32, ballot: Ballot, proposals: [InstanceProposal]) -> Message {
        .accepted(acceptor: acceptor, ballot: ballot, votes: proposals.map { Vote(instance: $0.instance, digest: Wire.digest(of: $0.proposal)) })
    }

    /// Whether a healthy cluster sends this kind all the time (values, votes, heartbeats): logs show those
    /// only at trace level, the rarer kinds (elections, catch-up, recovery, trims) at debug.
    public var isRoutine: Bool {
        switch self {
        case .submit, .chosen, .accept, .accepted, .heartbeat, .progress, .present: true
        default: false
        }
    }

    /// One bounded line for logs: the kind, who, which ballot, which instances (as a range), how many.
    public var summary: String {
        func span(_ instances: [Instance]) -> String {
            guard let first = instances.first, let last = instances.last else { return "no instances" }
            return instances.count == 1 ? "instance \(first)" : "instances \(first)-\(last) (\(instances.count))"
        }
        switch self {
        case .submit(let s): return "submit of \(s.count) values"
        case .chosen(let runs): return "chosen: \(runs.reduce(UInt64(0)) { $0 &+ $1.count }) values decided"
        case .prepare(let b, let from): return "prepare \(b) for instances from \(from)"
        case .promise(let p):
            return "promise of acceptor \(p.acceptor) for \(p.ballot) from \(p.from), chunk \(p.chunk + 1)/\(p.chunkCount), "
                + "\(p.accepted.count) accepted, trimmed through \(p.trimmedThrough)"
        case .nack(let a, let b): return "nack of acceptor \(a): it promised \(b)"
        case .accept(let b, let ps, let d): return "accept \(b) \(span(ps.map(\.instance))), decided through \(d)"
        case .accepted(let a, let b, let vs): return "accepted by acceptor \(a) in \(b): \(span(vs.map(\.instance)))"
        case .replay(let a, let es): return "replay of acceptor \(a): \(span(es.map(\.instance)))"
        case .heartbeat(let b, let f): return "heartbeat of \(b), first undecided \(f)"
        case .catchUp(let l, let f, let t): return "catch-up request of learner \(l) for instances \(f)..<\(t)"
        case .decided(let ps): return "decided \(span(ps.map(\.instance)))"
        case .recover(let l, let f): return "recover request of learner \(l) from instance \(f)"
        case .progress(let l, let d): return "progress: learner \(l) delivered through \(d)"
        case .trimmed(let a, let t): return "trimmed: acceptor \(a) forgot instances through \(t)"
        case .recoverState(let a, let b, _): return "state request of acceptor \(a), barrier \(b)"
        case .acceptorState(let p, let blank, _):
            return "state of acceptor \(p.acceptor)\(blank ? " (blank)" : ""): promised \(p.ballot), "
                + "chunk \(p.chunk + 1)/\(p.chunkCount), \(p.accepted.count) accepted, trimmed through \(p.trimmedThrough)"
        case .present(let a, let b): return "present: acceptor \(a), promised \(b)"
        }
    }
}
