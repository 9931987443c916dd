extension Paxos {
    /// What one role sends at the end of one burst, in as few datagrams as carry the same messages.
    ///
    /// A role answers each input on its own: an acceptor one 2B per 2A, a leader one `chosen` per
    /// decided instance and one 2A per submission that arrived, a learner one progress report per
    /// advance. A burst of several inputs therefore ends with several messages of one kind to one group,
    /// each costing every receiver a wake-up, a read and a decode. Merged here, they say the same thing:
    ///
    /// - lists that mean the same item by item, whether they come in one message or several, are
    ///   concatenated (in the order they were produced) and split again to the datagram budget their
    ///   role uses: an acceptor's 2B votes of one ballot, a leader's 2A proposals of one ballot (with the
    ///   highest decided prefix any of them announced: it was true when the first was produced, and still
    ///   is when they all leave), `chosen` ids, a client's submissions (one batch's worth a datagram, as the
    ///   client splits them), an acceptor's catch-up answers, a learner's decided instances;
    /// - reports a later one of which says all an earlier one said are kept once, the latest (highest):
    ///   a learner's delivered prefix, an acceptor's trim point, a leader's heartbeat of one ballot.
    ///
    /// Everything else (promises and their chunks, nacks, prepares, catch-up requests, recovery) goes out
    /// as it was. A merged message takes the place of the first message it merges; the relative order of
    /// everything else is kept. The sends are the same messages, so persist-before-send holds as before:
    /// the shell calls this once per burst, after the burst's write is durable, with what it then sends.
    public static func coalesced(_ sends: [Outgoing], settings: ProtocolSettings) -> [Outgoing] {
        guard settings.coalesceSends, sends.count > 1 else { return sends }
        // Per message, the position of the first message of its key (nil: it merges with nothing).
        var firstOf: [Key: Int] = [:]
        var leader: [Int?] = []
        leader.reserveCapacity(sends.count)
        var members: [Int: [Int]] = [:]
        for (i, out) in sends.enumerated() {
            guard let key = Key(out) else {
                leader.append(nil)
                continue
            }
            if let k = firstOf[key] {
                leader.append(k)
                members[k, default: [k]].append(i)
            } else {
                firstOf[key] = i
                leader.append(i)
            }
        }
        guard !members.isEmpty else { return sends }
        let budget = settings.datagramPayloadBudget
        var result: [Outgoing] = []
        result.reserveCapacity(sends.count)
        for (i, out) in sends.enumerated() {
            guard let k = leader[i] else {
                result.append(out)
                continue
            }
            guard k == i else { continue }  // merged into the first of its key
            guard let all = members[i] else {
                result.append(out)
                continue
            }
            result += split(fold(all.map { sends[$0].message }), to: out.group, budget: budget, settings: settings)
        }
        return result
    }

    /// Messages that may merge: the same kind, group and (where the kind has one) sender and ballot.
    private enum Key: Hashable {
        case accepted(Group, acceptor: UInt32, Ballot)
        case accept(Group, Ballot)
        case chosen(Group)
        case submit(Group)
        case replay(Group, acceptor: UInt32)
        case decided(Group)
        case progress(Group, learner: UInt32)
        case trimmed(Group, acceptor: UInt32)
        case heartbeat(Group, Ballot)

        init?(_ out: Outgoing) {
            let g = out.group
            switch out.message {
            case .accepted(let a, let b, _): self = .accepted(g, acceptor: a, b)
            case .accept(let b, _, _): self = .accept(g, b)
            case .chosen: self = .chosen(g)
            case .submit: self = .submit(g)
            case .replay(let a, _): self = .replay(g, acceptor: a)
            case .decided: self = .decided(g)
            case .progress(let l, _): self = .progress(g, learner: l)
            case .trimmed(let a, _): self = .trimmed(g, acceptor: a)
            case .heartbeat(let b, _): self = .heartbeat(g, b)
            default: return nil
            }
        }
    }

    /// Messages of one ``Key`` (two or more, in the order they were produced) as one message.
    private static func fold(_ messages: [Message]) -> Message {
        switch messages[0] {
        case .accepted(let a, let b, _):
            return .accepted(acceptor: a, ballot: b, votes: messages.flatMap { m -> [Vote] in
                if case .accepted(_, _, let v) = m { return v }
                preconditionFailure("a \(m.summary) folded into 2Bs")
            })
        case .accept(let b, _, _):
            var decided: Instance = 0
            let proposals = messages.flatMap { m -> [InstanceProposal] in
                guard case .accept(_, let p, let d) = m else { preconditionFailure("a \(m.summary) folded into 2As") }
                decided = max(decided, d)
                return p
            }
            return .accept(ballot: b, proposals: proposals, decidedThrough: decided)
        case .chosen:
            var runs: [ChosenRun] = []
            for m in messages {
                guard case .chosen(let r) = m else { preconditionFailure("a \(m.summary) folded into chosen") }
                for run in r { ChosenRun.append(run, to: &runs) }
            }
            return .chosen(runs)
        case .submit:
            return .submit(messages.flatMap { m -> [Submission] in
                if case .submit(let s) = m { return s }
                preconditionFailure("a \(m.summary) folded into submissions")
            })
        case .replay(let a, _):
            return .replay(acceptor: a, entries: messages.flatMap { m -> [AcceptedEntry] in
                if case .replay(_, let e) = m { return e }
                preconditionFailure("a \(m.summary) folded into replays")
            })
        case .decided:
            return .decided(messages.flatMap { m -> [InstanceProposal] in
                if case .decided(let p) = m { return p }
                preconditionFailure("a \(m.summary) folded into decided")
            })
        case .progress(let l, _):
            return .progress(learner: l, delivered: messages.map { m -> Instance in
                if case .progress(_, let d) = m { return d }
                preconditionFailure("a \(m.summary) folded into progress")
            }.max()!)
        case .trimmed(let a, _):
            return .trimmed(acceptor: a, through: messages.map { m -> Instance in
                if case .trimmed(_, let t) = m { return t }
                preconditionFailure("a \(m.summary) folded into trimmed")
            }.max()!)
        case .heartbeat(let b, _):
            return .heartbeat(ballot: b, firstUndecided: messages.map { m -> Instance in
                if case .heartbeat(_, let f) = m { return f }
                preconditionFailure("a \(m.summary) folded into heartbeats")
            }.max()!)
        default:
            preconditionFailure("\(messages[0].summary) does not merge")
        }
    }

    /// A folded message as the messages that fit datagrams, split as the role that produced it splits them.
    private static func split(_ message: Message, to group: Group, budget: Int, settings: ProtocolSettings) -> [Outgoing] {
        switch message {
        case .accepted(let a, let b, let votes):
            return chunked(votes, budget: budget, size: Wire.size(of:)).map { Outgoing(.accepted(acceptor: a, ballot: b, votes: $0), to: group) }
        case .accept(let b, let proposals, let d):
            return chunked(proposals, budget: budget, size: Wire.size(of:)).map { Outgoing(.accept(ballot: b, proposals: $0, decidedThrough: d), to: group) }
        case .chosen(let runs):
            return chunked(runs, budget: budget, size: Wire.size(of:)).map { Outgoing(.chosen($0), to: group) }
        case .submit(let submissions):
            // As the client splits them: a datagram carries at most one batch's worth.
            let batch = min(budget, settings.maxBatchBytes)
            return chunked(submissions, budget: batch, size: Wire.size(of:)).map { Outgoing(.submit($0), to: group) }
        case .replay(let a, let entries):
            return chunked(entries, budget: budget, size: Wire.size(of:)).map { Outgoing(.replay(acceptor: a, entries: $0), to: group) }
        case .decided(let proposals):
            return chunked(proposals, budget: budget, size: Wire.size(of:)).map { Outgoing(.decided($0), to: group) }
        default:
            return [Outgoing(message, to: group)]
        }
    }
}
