/// What each role persists, and what it is rebuilt from after a crash.
///
/// The shell's contract: write a role's `persist` effect durably before it sends any message or delivers
/// any value from the same step. A role rebuilt from only its durable state behaves correctly.

/// An acceptor's durable state: its promise and every value it accepted.
public struct AcceptorDurableState: Hashable, Sendable {
    public var promised: Ballot
    public var accepted: [AcceptedEntry]
    /// What a recovery copied from other acceptors (see ``Paxos/Acceptor``): reported in promises, never
    /// as this acceptor's own vote.
    public var inherited: [AcceptedEntry]
    /// Instances through this one were delivered by every learner and forgotten.
    public var trimmedThrough: Instance
    /// Still recovering: it started without state, and a promise it made since (a barrier another
    /// recovering acceptor asked for) does not make it an acceptor with history.
    public var recovering: Bool

    public init(promised: Ballot = .zero, accepted: [AcceptedEntry] = [], inherited: [AcceptedEntry] = [],
                trimmedThrough: Instance = 0, recovering: Bool = false) {
        self.recovering = recovering
        self.promised = promised
        self.accepted = accepted
        self.inherited = inherited
        self.trimmedThrough = trimmedThrough
    }
}

/// What an acceptor must persist before it answers: a raised promise and/or newly accepted values
/// (an entry replaces what was accepted before in that instance).
public struct AcceptorWrite: Hashable, Sendable {
    public var promised: Ballot?
    /// Entries inherited by a recovery (applied first: a later vote in the same instance replaces one).
    public var inherited: [AcceptedEntry]
    public var accepted: [AcceptedEntry]
    /// Forget every accepted value through this instance (applied after `accepted`).
    public var trimThrough: Instance?
    /// Whether the acceptor is still recovering (nil: unchanged).
    public var recovering: Bool?

    public init(promised: Ballot? = nil, inherited: [AcceptedEntry] = [], accepted: [AcceptedEntry] = [],
                trimThrough: Instance? = nil, recovering: Bool? = nil) {
        self.recovering = recovering
        self.promised = promised
        self.inherited = inherited
        self.accepted = accepted
        self.trimThrough = trimThrough
    }

    public var isEmpty: Bool {
        promised == nil && inherited.isEmpty && accepted.isEmpty && trimThrough == nil && recovering == nil
    }

    /// Folds a later write into this one, so one transaction can carry a whole burst of messages.
    public mutating func merge(_ later: AcceptorWrite) {
        if let p = later.promised { promised = max(promised ?? p, p) }
        inherited.append(contentsOf: later.inherited)
        if let r = later.recovering { recovering = r }
        accepted.append(contentsOf: later.accepted)
        if let t = later.trimThrough { trimThrough = max(trimThrough ?? t, t) }
    }
}

/// One value a learner delivers: its position in the learner's output (counting from 1) and the
/// submission it came from.
public struct Delivery: Hashable, Sendable {
    public var position: UInt64
    public var submission: Submission

    public init(position: UInt64, submission: Submission) {
        self.position = position
        self.submission = submission
    }
}

/// A decided instance as a learner delivered it: the submissions it contributed that were not delivered
/// before (none for a no-op or an instance decided twice over the same submissions).
public struct DeliveredInstance: Hashable, Sendable {
    public var instance: Instance
    public var deliveries: [Delivery]

    public init(instance: Instance, deliveries: [Delivery]) {
        self.instance = instance
        self.deliveries = deliveries
    }
}

/// A learner's durable state: the first instance it has not delivered, the next output position, and
/// the ids of every submission it delivered (so a resubmitted value decided again is skipped).
public struct LearnerDurableState: Hashable, Sendable {
    public var nextInstance: Instance
    public var nextPosition: UInt64
    public var delivered: [SubmissionID]

    public init(nextInstance: Instance = 1, nextPosition: UInt64 = 1, delivered: [SubmissionID] = []) {
        self.nextInstance = nextInstance
        self.nextPosition = nextPosition
        self.delivered = delivered
    }
}

/// A proposer's durable state: the highest ballot round it ever used, so it never reuses a ballot.
public struct ProposerDurableState: Hashable, Sendable {
    public var highestRound: UInt64

    public init(highestRound: UInt64 = 0) {
        self.highestRound = highestRound
    }
}
