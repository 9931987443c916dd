/// Multi-Paxos atomic broadcast as pure state machines.
///
/// Every role (``Acceptor``, ``Proposer``, ``Learner``, ``Client``) is a value type. Each input — a
/// decoded message or a clock tick — is a method that mutates the role and returns what the shell must
/// persist, send and deliver. Nothing in this module does I/O, reads a clock or draws randomness: time
/// arrives as a tick count and randomness as a seed, so a whole cluster can be replayed exactly.
public enum Paxos {}

/// A consensus instance: one slot of the totally ordered log. Instances count from 1.
public typealias Instance = UInt64

/// A proposer's round number paired with its id and its process incarnation, ordered in that order.
///
/// Pairing with the proposer id makes ballots unique across proposers, and a proposer persists the
/// highest round it used so it never reuses a ballot after a restart. The incarnation — drawn at random
/// by every proposer process — keeps ballots unique even when that is not enough: two processes started
/// with one proposer id, or a proposer restarted without its database, lead at different ballots, so an
/// acceptor never answers two different proposals as if they were one.
public struct Ballot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var round: UInt64
    public var proposer: UInt32
    public var incarnation: UInt32

    public init(round: UInt64, proposer: UInt32, incarnation: UInt32 = 0) {
        self.round = round
        self.proposer = proposer
        self.incarnation = incarnation
    }

    /// Lower than every ballot a proposer can use (rounds start at 1).
    public static let zero = Ballot(round: 0, proposer: 0)

    /// Rounds above this are absurd (a proposer would need 2^62 elections) and are ignored wherever
    /// they arrive, so a forged datagram can neither overflow a proposer's next round nor sit above
    /// every ballot a real proposer could ever reach.
    public static let maxRound: UInt64 = 1 << 62

    /// A ballot a proposer could have used: round 1 to `maxRound`, proposer id from 1.
    public var isValid: Bool { isWellFormed && proposer >= 1 }

    /// Round 1 to `maxRound`. Proposer 0 marks a barrier: the promise a recovering acceptor asks the
    /// others to make so that no ballot it may have voted in before it lost its disk can still complete.
    public var isWellFormed: Bool { round >= 1 && round <= Ballot.maxRound }

    /// The barrier just above `ballot`: higher than it and than every ballot of its round, lower than
    /// every ballot a proposer can use in the next round.
    public static func barrier(above ballot: Ballot) -> Ballot { Ballot(round: ballot.round + 1, proposer: 0) }

    /// How far a new round may lie beyond the highest one a role knows. Real proposers go one round past
    /// the highest they heard of, so a ballot a million rounds ahead is forged or corrupt: ignoring it is
    /// safe (a promise never given), and it keeps one datagram from locking every real proposer out.
    public static let maxRoundJump: UInt64 = 1_000_000

    /// A valid ballot no further than `maxRoundJump` rounds beyond `known`.
    public func isPlausible(after known: Ballot) -> Bool {
        isValid && round <= known.round &+ Ballot.maxRoundJump
    }

    public static func < (a: Ballot, b: Ballot) -> Bool {
        (a.round, a.proposer, a.incarnation) < (b.round, b.proposer, b.incarnation)
    }

    public var description: String { "\(round).\(proposer)" }
}

/// Instances a role accepts beyond what it already knows of the log. A real leader proposes at most a
/// window past its decided prefix, and every role hears of the log's progress long before it is this far
/// behind; an instance further out is forged or corrupt, and taking it would make every later leader owe
/// millions of no-ops (or a learner believe it is forever behind).
public let maxInstanceLead: Instance = 1 << 24

/// Who sent a datagram: its role, id, and the process that played it. Every datagram carries it.
public struct Sender: Hashable, Sendable, CustomStringConvertible {
    public var role: Role
    public var id: UInt32
    /// Drawn at random by each process as it starts.
    public var incarnation: UInt32
    /// When the process started (milliseconds of the wall clock in the shells; a tick in the simulator).
    public var startedAt: UInt64

    public init(role: Role, id: UInt32, incarnation: UInt32, startedAt: UInt64) {
        self.role = role
        self.id = id
        self.incarnation = incarnation
        self.startedAt = startedAt
    }

    /// For datagrams built outside any process (tests, tools).
    public static let unattributed = Sender(role: .client, id: 0, incarnation: 0, startedAt: 0)

    /// Started after `other` (ties broken by incarnation, so of two processes exactly one is newer).
    public func isNewer(than other: Sender) -> Bool {
        (startedAt, incarnation) > (other.startedAt, other.incarnation)
    }

    public var description: String { "\(role) \(id) (incarnation \(incarnation), started \(startedAt))" }
}

/// The settings every process of a cluster must share, because quorums and trimming depend on them.
/// Every datagram carries its sender's; a datagram with another is dropped, so a misconfigured process
/// is loud and harmless instead of deciding with a minority.
public struct ClusterFingerprint: Hashable, Sendable, CustomStringConvertible {
    public var acceptorCount: UInt32
    public var learnerCount: UInt32

    public init(acceptorCount: UInt32, learnerCount: UInt32) {
        self.acceptorCount = acceptorCount
        self.learnerCount = learnerCount
    }

    public var description: String { "acceptor-count \(acceptorCount), learner-count \(learnerCount)" }

    /// The course's cluster: three acceptors, two learners (the defaults of `ProtocolSettings`).
    public static let defaultSettings = ClusterFingerprint(acceptorCount: 3, learnerCount: 2)
}

/// Identifies one submission: which client, which run of that client, which of its values.
///
/// Learners deliver each submission id at most once. Values are never keys: the course's inputs repeat
/// values constantly. The incarnation changes every time a client process starts, so a restarted client
/// with the same id never collides with what its earlier run submitted.
public struct SubmissionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var client: UInt32
    public var incarnation: UInt64
    public var sequence: UInt64

    public init(client: UInt32, incarnation: UInt64, sequence: UInt64) {
        self.client = client
        self.incarnation = incarnation
        self.sequence = sequence
    }

    public static func < (a: SubmissionID, b: SubmissionID) -> Bool {
        (a.client, a.incarnation, a.sequence) < (b.client, b.incarnation, b.sequence)
    }

    public var description: String { "\(client)/\(incarnation)#\(sequence)" }
}

/// Consecutive submissions of one client run reported decided: sequence numbers `first ..< first + count`.
///
/// A client numbers its values one after another and a leader batches them in that order, so a decided
/// instance names a few runs, not hundreds of ids: the leader reports, and each client reads, a few
/// numbers per instance instead of three varints and a hash per value.
public struct ChosenRun: Hashable, Sendable, CustomStringConvertible {
    public var client: UInt32
    public var incarnation: UInt64
    /// The first sequence number (at least 1).
    public var first: UInt64
    /// How many, at least 1; `first + count - 1` does not overflow (the decoder refuses it).
    public var count: UInt64

    public init(client: UInt32, incarnation: UInt64, first: UInt64, count: UInt64) {
        self.client = client
        self.incarnation = incarnation
        self.first = first
        self.count = count
    }

    /// The last sequence number of the run.
    public var last: UInt64 { first + (count - 1) }

    public var description: String {
        count == 1 ? "\(client)/\(incarnation)#\(first)" : "\(client)/\(incarnation)#\(first)...\(last)"
    }

    /// `ids` as runs, in their order: consecutive ids of one run with consecutive sequence numbers make one.
    /// (Not generic: called from another module, a generic would look its metadata up at run time, per call.)
    public static func runs(of ids: [SubmissionID]) -> [ChosenRun] {
        var runs: [ChosenRun] = []
        for id in ids {
            append(ChosenRun(client: id.client, incarnation: id.incarnation, first: id.sequence, count: 1), to: &runs)
        }
        return runs
    }

    /// The runs of the submissions' ids, in their order (as ``runs(of:)-([SubmissionID])``).
    public static func runs(of submissions: [Submission]) -> [ChosenRun] {
        var runs: [ChosenRun] = []
        for s in submissions {
            append(ChosenRun(client: s.id.client, incarnation: s.id.incarnation, first: s.id.sequence, count: 1), to: &runs)
        }
        return runs
    }

    /// Appends `run` to `runs`, extending the last run instead when `run` continues it.
    public static func append(_ run: ChosenRun, to runs: inout [ChosenRun]) {
        if let last = runs.last, last.client == run.client, last.incarnation == run.incarnation,
           last.last < UInt64.max, run.first == last.last + 1 {
            // Both valid runs (first ≥ 1, no overflow), so the merged one ends where `run` ends: valid too.
            runs[runs.count - 1].count += run.count
        } else {
            runs.append(run)
        }
    }

    /// The ids a list of runs names, in order (for tests and tools: a run may name many).
    public static func ids(of runs: [ChosenRun]) -> [SubmissionID] {
        runs.flatMap { r in
            (r.first...r.last).lazy.map { SubmissionID(client: r.client, incarnation: r.incarnation, sequence: $0) }
        }
    }
}

/// One value a client asked to broadcast: the line exactly as the client read it.
public struct Submission: Hashable, Sendable {
    public var id: SubmissionID
    public var value: [UInt8]

    public init(id: SubmissionID, value: [UInt8]) {
        self.id = id
        self.value = value
    }
}

/// What one instance decides: a batch of submissions, or a no-op that fills a hole left by a failed
/// leader and that learners skip.
public enum Proposal: Hashable, Sendable {
    case noop
    case batch([Submission])

    public var submissions: [Submission] {
        if case .batch(let s) = self { return s }
        return []
    }
}

/// A value an acceptor accepted in an instance, with the ballot it was accepted in.
public struct AcceptedEntry: Hashable, Sendable {
    public var instance: Instance
    public var ballot: Ballot
    public var proposal: Proposal

    public init(instance: Instance, ballot: Ballot, proposal: Proposal) {
        self.instance = instance
        self.ballot = ballot
        self.proposal = proposal
    }
}

/// One acceptor's vote in a 2B: it accepted, in the message's ballot, the proposal of `instance` whose
/// ``Wire/digest(of:)`` is `digest`.
public struct Vote: Hashable, Sendable {
    public var instance: Instance
    public var digest: UInt64

    public init(instance: Instance, digest: UInt64) {
        self.instance = instance
        self.digest = digest
    }
}

/// An instance paired with its proposal (a 2A/2B payload, or a decided instance during catch-up).
public struct InstanceProposal: Hashable, Sendable {
    public var instance: Instance
    public var proposal: Proposal

    public init(instance: Instance, proposal: Proposal) {
        self.instance = instance
        self.proposal = proposal
    }
}

/// The multicast groups of the course's configuration: all roles usually share one address and differ
/// by port.
public enum Group: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case clients, proposers, acceptors, learners

    public var description: String {
        switch self {
        case .clients: "clients"
        case .proposers: "proposers"
        case .acceptors: "acceptors"
        case .learners: "learners"
        }
    }
}

/// A message to multicast to one group.
public struct Outgoing: Hashable, Sendable {
    public var group: Group
    public var message: Message

    public init(_ message: Message, to group: Group) {
        self.group = group
        self.message = message
    }
}

/// The role a process plays, and which groups it must listen to.
public enum Role: String, CaseIterable, Sendable {
    case acceptor, proposer, learner, client

    /// Groups whose datagrams this role consumes. Acceptors' 2B messages go to the learners' group
    /// once; proposers listen there too, to learn which instances are decided, instead of acceptors
    /// sending every 2B twice. 2Bs carry digests, not values: learners also listen to the acceptors'
    /// group, for the leader's 2As (and only those: see ``takes(_:from:)``).
    public var listensTo: [Group] {
        switch self {
        case .acceptor: [.acceptors]
        case .proposer: [.proposers, .learners]
        case .learner: [.learners, .acceptors]
        case .client: [.clients]
        }
    }

    /// Whether this role handles `message` when it came on `group`: a learner takes only 2As from the
    /// acceptors' group (a catch-up request of another learner goes to both groups, and must be served
    /// once). Everything else a role hears is its own.
    public func takes(_ message: Message, from group: Group) -> Bool {
        guard self == .learner, group == .acceptors else { return true }
        if case .accept = message { return true }
        return false
    }
}
