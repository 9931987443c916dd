/// What each role persists, and what it is rebuilt from after a crash.
///
/// The shell's contract: write a role's `persist` effect durably before it sends any message or delivers
/// any value from the same step. A role rebuilt from only its durable state behaves correctly.

/// An acceptor's durable state: its promise and every value it accepted.
public struct AcceptorDurableState: Hashable, Sendable {
    public var promised: Ballot
    public var accepted: [AcceptedEntry]
    /// Instances through this one were delivered by every learner and forgotten.
    public var trimmedThrough: Instance

    public init(promised: Ballot = .zero, accepted: [AcceptedEntry] = [], trimmedThrough: Instance = 0) {
        self.promised = promised
        self.accepted = accepted
        self.trimmedThrough = trimmedThrough
    }
}

/// What an acceptor must persist before it answers: a raised promise and/or newly accepted values
/// (an entry replaces what was accepted before in that instance).
public struct AcceptorWrite: Hashable, Sendable {
    public var promised: Ballot?
    public var accepted: [AcceptedEntry]
    /// Forget every accepted value through this instance (applied after `accepted`).
    public var trimThrough: Instance?

    public init(promised: Ballot? = nil, accepted: [AcceptedEntry] = [], trimThrough: Instance? = nil) {
        self.promised = promised
        self.accepted = accepted
        self.trimThrough = trimThrough
    }

    public var isEmpty: Bool { promised == nil && accepted.isEmpty && trimThrough == nil }

    /// Folds a later write into this one, so one transaction can carry a whole burst of messages.
    public mutating func merge(_ later: AcceptorWrite) {
        if let p = later.promised { promised = max(promised ?? p, p) }
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
