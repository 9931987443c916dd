/// Counts 2B votes per instance and reports an instance decided once a quorum of DISTINCT acceptors
/// accepted the same ballot in it. A repeated or duplicated vote never counts twice.
///
/// Votes name the value by its digest (``Wire/digest(of:)``): a ballot carries exactly one value per
/// instance (proposers never reuse a ballot), so the digest is taken from the first vote of a ballot; a
/// vote that disagrees with it is refused and reported. The tally says which digest was chosen; the
/// caller pairs it with a value whose digest it computed itself.
struct VoteTally: Hashable, Sendable {
    struct BallotVotes: Hashable, Sendable {
        var ballot: Ballot
        var voters: UInt64  // bit (id - 1) per acceptor; acceptor ids are bounded by acceptorCount ≤ 64
        var digest: UInt64
    }

    let quorum: Int
    private(set) var votes: [Instance: [BallotVotes]] = [:]

    init(quorum: Int) { self.quorum = quorum }

    enum Outcome: Equatable {
        case pending
        /// A quorum accepted the value with this digest.
        case decided(digest: UInt64)
        /// The same ballot came with two different values: some process is not following the protocol.
        case conflicting
    }

    /// Records that `acceptor` accepted the value with `digest` in `ballot` for `instance`.
    mutating func record(acceptor: UInt32, ballot: Ballot, instance: Instance, digest: UInt64) -> Outcome {
        guard acceptor >= 1 && acceptor <= 64 else { return .pending }
        let bit = UInt64(1) << UInt64(acceptor - 1)
        var list = votes.removeValue(forKey: instance) ?? []
        let outcome: Outcome
        if let k = list.firstIndex(where: { $0.ballot == ballot }) {
            guard list[k].digest == digest else {
                votes[instance] = list
                return .conflicting
            }
            list[k].voters |= bit
            outcome = list[k].voters.nonzeroBitCount >= quorum ? .decided(digest: digest) : .pending
        } else {
            list.append(BallotVotes(ballot: ballot, voters: bit, digest: digest))
            outcome = 1 >= quorum ? .decided(digest: digest) : .pending
        }
        if case .pending = outcome { votes[instance] = list }
        return outcome
    }

    /// Forgets the votes of an instance (it was decided by other means, or is no longer of interest).
    mutating func forget(_ instance: Instance) { votes[instance] = nil }

    /// Forgets every instance below `instance`.
    mutating func forget(below instance: Instance) {
        guard !votes.isEmpty else { return }
        votes = votes.filter { $0.key >= instance }
    }

    var pendingCount: Int { votes.count }
}

/// Which instances are known decided: everything below `firstUndecided`, and a sparse set above it.
struct DecidedInstances: Hashable, Sendable {
    private(set) var firstUndecided: Instance = 1
    private(set) var above: Set<Instance> = []
    /// The highest instance known decided (0 when none).
    private(set) var highest: Instance = 0

    init(firstUndecided: Instance = 1) {
        self.firstUndecided = max(firstUndecided, 1)
        self.highest = self.firstUndecided - 1
    }

    func contains(_ i: Instance) -> Bool { i < firstUndecided || above.contains(i) }

    /// Marks every instance through `instance` decided.
    mutating func advance(through instance: Instance) {
        guard instance >= firstUndecided else { return }
        firstUndecided = instance + 1
        highest = max(highest, instance)
        above = above.filter { $0 > instance }
        while above.remove(firstUndecided) != nil { firstUndecided += 1 }
    }

    /// Marks an instance decided; returns false if it was known already.
    @discardableResult
    mutating func insert(_ i: Instance) -> Bool {
        guard !contains(i) else { return false }
        highest = max(highest, i)
        if i == firstUndecided {
            firstUndecided += 1
            while above.remove(firstUndecided) != nil { firstUndecided += 1 }
        } else {
            above.insert(i)
        }
        return true
    }
}
