import DequeModule

extension Paxos {
    /// What a proposer asks of its shell after one input: persist `persist`, then send `send`.
    public struct ProposerEffects: Hashable, Sendable {
        public var persist: ProposerDurableState?
        public var send: [Outgoing] = []
        public init() {}
    }

    /// A proposer. One leads; the others stand by and take over when the leader goes silent.
    ///
    /// The leader runs phase 1 once for every instance from its first undecided one on (acceptors'
    /// promises cover the rest of the log), re-proposes what acceptors report as accepted — the value of
    /// the highest ballot per instance, a no-op in holes — and then assigns batches of client submissions
    /// to fresh instances, keeping a window of them in flight and re-sending any not decided in time.
    /// It learns decisions by counting the acceptors' 2B votes, as learners do.
    public struct Proposer: Hashable, Sendable {
        public enum Mode: Hashable, Sendable { case follower, candidate, leader }

        struct InFlight: Hashable, Sendable {
            var proposal: Proposal
            var sentAt: UInt64
        }

        public let id: UInt32
        /// Part of every ballot this proposer uses (see ``Ballot``): the process's incarnation, until a
        /// rebase draws another (see `onNack`).
        public private(set) var incarnation: UInt32
        /// Incarnations this process has used, so a rebase never reuses one.
        private var usedIncarnations: Set<UInt32> = []
        /// Acceptors that refused this candidate's ballot as implausibly far above their promise.
        private var farBelow: [UInt32: Ballot] = [:]
        public let settings: ProtocolSettings
        public private(set) var mode: Mode = .follower
        /// This proposer's current (or last) ballot.
        public private(set) var ballot: Ballot
        /// The highest ballot this proposer has heard of.
        public private(set) var knownBallot: Ballot = .zero
        public var firstUndecided: Instance { decided.firstUndecided }

        private var rng: SplitMix64
        private var highestRound: UInt64
        private var now: UInt64
        private var decided = DecidedInstances()
        private var tally: VoteTally

        private var electionDeadline: UInt64 = 0
        private var prepareFrom: Instance = 1
        private var prepareSentAt: UInt64 = 0
        private var prepareAttempts = 0
        private var electionStartedAt: UInt64 = 0
        private var promises = PromiseAnswers()

        private var nextInstance: Instance = 1
        private var inFlight: [Instance: InFlight] = [:]
        /// Instances phase 1 found to re-propose, from `recoverNext` through `recoverEnd`, and the values
        /// accepted in them (an instance missing here is a hole: a no-op).
        private var recovering: [Instance: Proposal] = [:]
        private var recoverNext: Instance = 1
        private var recoverEnd: Instance = 0
        private var pending: Deque<Submission> = []
        private var queued: Set<SubmissionID> = []
        private var lastHeartbeat: UInt64 = 0
        private var lastRecover: UInt64?

        public init(id: UInt32, settings: ProtocolSettings, restoring state: ProposerDurableState = .init(),
                    seed: UInt64, incarnation: UInt32 = 0, now: UInt64 = 0) {
            self.id = id
            self.incarnation = incarnation
            self.usedIncarnations = [incarnation]
            self.settings = settings
            self.rng = SplitMix64(seed: seed)
            self.highestRound = state.highestRound
            self.ballot = Ballot(round: state.highestRound, proposer: id, incarnation: incarnation)
            self.now = now
            self.tally = VoteTally(quorum: settings.quorum)
            // Proposers start their first election staggered by id, so proposer 1 usually leads.
            self.electionDeadline = now + UInt64(max(Int(id) - 1, 0)) * settings.leaderTimeoutTicks + jitter()
        }

        /// Pending submissions plus instances in flight or still to recover: what the leader has to get decided.
        public var backlog: Int {
            pending.count + inFlight.count + Int(clamping: recoverEnd >= recoverNext ? recoverEnd - recoverNext + 1 : 0)
        }

        // MARK: inputs

        public mutating func on(_ message: Message) -> ProposerEffects {
            var effects = ProposerEffects()
            switch message {
            case .submit(let submissions):
                guard mode != .follower else { break }  // standbys drop; clients resubmit after failover
                for s in submissions where s.id.sequence > 0 && !queued.contains(s.id) {
                    guard pending.count < settings.maxPending else { break }
                    queued.insert(s.id)
                    pending.append(s)
                }
            case .promise(let p):
                onPromise(p, into: &effects)
            case .nack(let acceptor, let promised):
                // A barrier (proposer 0) is a real promise too: a recovering acceptor asked for it.
                // An acceptor that never promised anything nacks with .zero when a ballot is far above.
                guard settings.isAcceptor(acceptor), promised.isWellFormed || promised == .zero else { break }
                if mode == .candidate && promised.round &+ Ballot.maxRoundJump < ballot.round {
                    onFarBelow(acceptor: acceptor, promised: promised, into: &effects)
                    break
                }
                guard promised.isWellFormed else { break }
                hear(promised)
                if mode != .follower && promised > ballot { stepDown() }
            case .accepted(let acceptor, let b, let proposals):
                guard settings.isAcceptor(acceptor) else { break }
                hear(b)
                if b == knownBallot && !isMine(b) { electionDeadline = now + settings.leaderTimeoutTicks + jitter() }
                for p in proposals {
                    vote(acceptor: acceptor, ballot: b, instance: p.instance, proposal: p.proposal, into: &effects)
                }
            case .replay(let acceptor, let entries):
                guard settings.isAcceptor(acceptor) else { break }
                for e in entries {
                    vote(acceptor: acceptor, ballot: e.ballot, instance: e.instance, proposal: e.proposal, into: &effects)
                }
            case .decided(let proposals):
                for p in proposals where p.instance <= max(decided.firstUndecided, nextInstance) &+ maxInstanceLead {
                    onDecided(p.instance, p.proposal, into: &effects)
                }
            case .heartbeat(let b, _):
                guard !isMine(b), b.isPlausible(after: knownBallot) else { break }
                hear(b)
                if b >= knownBallot { electionDeadline = now + settings.leaderTimeoutTicks + jitter() }
            case .trimmed(let acceptor, let through):
                // Only a leader retrying instances acceptors forgot needs this, and only for instances it
                // proposed: a notice beyond them says nothing it could use.
                guard settings.isAcceptor(acceptor), mode == .leader, through < nextInstance else { break }
                markDecided(through: through)
            case .recover(let learner, let from):
                // Only a configured learner may make the leader run an election (when learners are counted).
                guard mode == .leader, from > 0,
                      settings.learnerCount == 0 || (learner >= 1 && Int(learner) <= settings.learnerCount) else { break }
                if let last = lastRecover, now - last < settings.leaderTimeoutTicks { break }
                lastRecover = now
                startElection(from: min(from, decided.firstUndecided), into: &effects)
            default:
                break
            }
            if mode == .leader { fillWindow(into: &effects) }
            return effects
        }

        public mutating func tick(now: UInt64) -> ProposerEffects {
            self.now = max(self.now, now)
            var effects = ProposerEffects()
            switch mode {
            case .follower:
                if self.now >= electionDeadline { startElection(from: decided.firstUndecided, into: &effects) }
            case .candidate:
                if self.now - prepareSentAt >= settings.prepareRetryTicks {
                    if prepareAttempts >= settings.prepareAttempts && self.now - electionStartedAt >= settings.leaderTimeoutTicks {
                        // No quorum of complete promises for this ballot: give it up and stand again with a
                        // higher one after a random backoff, rather than wait on answers that never complete
                        // (not before a leader timeout: answers slower than the retries still get their chance).
                        stepDown()
                        electionDeadline = self.now + 1 + jitter()
                    } else {
                        sendPrepare(into: &effects)
                    }
                }
            case .leader:
                if self.now - lastHeartbeat >= settings.heartbeatTicks {
                    lastHeartbeat = self.now
                    effects.send.append(Outgoing(.heartbeat(ballot: ballot, firstUndecided: decided.firstUndecided),
                                                 to: .proposers))
                }
                var retry: [InstanceProposal] = []
                for (i, f) in inFlight where self.now - f.sentAt >= settings.acceptRetryTicks {
                    retry.append(InstanceProposal(instance: i, proposal: f.proposal))
                    inFlight[i]?.sentAt = self.now
                }
                retry.sort { $0.instance < $1.instance }
                sendAccept(retry, into: &effects)
                fillWindow(into: &effects)
            }
            return effects
        }

        // MARK: election

        private mutating func jitter() -> UInt64 {
            settings.electionBackoffTicks == 0 ? 0 : rng.next() % (settings.electionBackoffTicks + 1)
        }

        private func isMine(_ b: Ballot) -> Bool { b.proposer == id && b.incarnation == incarnation }

        /// An acceptor refused this candidate's prepare as implausible: its promise lies more than
        /// `maxRoundJump` rounds below the ballot. Forged ballots heard earlier (each believed a million
        /// rounds at a time) lifted this proposer there. Once a quorum says so, the proposer stands again
        /// just above their promises, with an incarnation it never used, so the lower ballot is still one
        /// no process ever used. (A handful of forged nacks must not stop the cluster for good.)
        private mutating func onFarBelow(acceptor: UInt32, promised: Ballot, into effects: inout ProposerEffects) {
            farBelow[acceptor] = promised
            guard farBelow.count >= settings.quorum else { return }
            let base = farBelow.values.max()!
            farBelow = [:]
            var fresh = incarnation
            while usedIncarnations.contains(fresh) { fresh = UInt32(truncatingIfNeeded: rng.next()) }
            usedIncarnations.insert(fresh)
            incarnation = fresh
            knownBallot = base
            let round = base.round + 1
            if round > highestRound {
                highestRound = round
                effects.persist = ProposerDurableState(highestRound: round)
            }
            ballot = Ballot(round: round, proposer: id, incarnation: incarnation)
            knownBallot = max(knownBallot, ballot)
            promises.reset()
            prepareAttempts = 0
            sendPrepare(into: &effects)
        }

        /// Takes note of a ballot in use. One far beyond anything known is believed only a bounded step
        /// at a time, so a forged ballot can neither exhaust the round space nor, being ignored, leave
        /// proposers below the promises acceptors really hold (two forged prepares a million rounds
        /// apart once locked every proposer out for good).
        private mutating func hear(_ b: Ballot) {
            guard b.isWellFormed, b > knownBallot else { return }
            if b.round <= knownBallot.round &+ Ballot.maxRoundJump {
                knownBallot = b
            } else {
                knownBallot = Ballot(round: knownBallot.round + Ballot.maxRoundJump, proposer: 0)
            }
        }

        private mutating func startElection(from: Instance, into effects: inout ProposerEffects) {
            requeueInFlight()
            highestRound = min(max(highestRound, knownBallot.round) + 1, Ballot.maxRound)
            ballot = Ballot(round: highestRound, proposer: id, incarnation: incarnation)
            hear(ballot)
            // Persisted before the prepare leaves, so a restarted proposer never reuses this ballot.
            effects.persist = ProposerDurableState(highestRound: highestRound)
            mode = .candidate
            recovering = [:]
            recoverEnd = 0
            prepareFrom = max(from, 1)
            promises.reset()
            farBelow = [:]
            prepareAttempts = 0
            electionStartedAt = now
            sendPrepare(into: &effects)
        }

        private mutating func sendPrepare(into effects: inout ProposerEffects) {
            prepareSentAt = now
            prepareAttempts += 1
            effects.send.append(Outgoing(.prepare(ballot: ballot, from: prepareFrom), to: .acceptors))
        }

        private mutating func stepDown() {
            mode = .follower
            recovering = [:]
            recoverEnd = 0
            electionDeadline = now + settings.leaderTimeoutTicks + jitter()
            promises.reset()
            inFlight = [:]
            pending = []
            queued = []
        }

        private mutating func onPromise(_ p: Promise, into effects: inout ProposerEffects) {
            // A trim point in the upper half of the instance space is forged: a leader marking it decided
            // would number its next instances beyond what any datagram may carry.
            guard mode == .candidate, p.ballot == ballot, p.from == prepareFrom, settings.isAcceptor(p.acceptor),
                  p.chunk < p.chunkCount, p.trimmedThrough < Wire.maxInstance / 2 else { return }
            guard promises.add(p) != nil, promises.complete.count >= settings.quorum else { return }
            becomeLeader(promises: Array(promises.complete.values), into: &effects)
        }

        /// Phase 1 succeeded: adopt, per instance, the value accepted in the highest ballot any promising
        /// acceptor reports; fill holes below the highest such instance with no-ops.
        private mutating func becomeLeader(promises complete: [AcceptorAnswer], into effects: inout ProposerEffects) {
            mode = .leader
            promises.reset()
            lastHeartbeat = now
            effects.send.append(Outgoing(.heartbeat(ballot: ballot, firstUndecided: decided.firstUndecided), to: .proposers))
            // What any promising acceptor trimmed was delivered by every learner: decided, never to be
            // touched. It must be the highest trim point: below it this quorum may no longer know the
            // decided values (the trimming acceptor forgot them), so proposing there could choose another.
            let trimmed = complete.map(\.trimmedThrough).max() ?? 0
            if trimmed >= prepareFrom {
                markDecided(through: trimmed)
                prepareFrom = trimmed + 1
            }
            var best: [Instance: AcceptedEntry] = [:]
            for promise in complete {
                for e in promise.accepted where e.instance >= prepareFrom {
                    if let seen = best[e.instance], seen.ballot >= e.ballot { continue }
                    best[e.instance] = e
                }
            }
            // Acceptors never accept an instance more than maxInstanceLead past what they hold, so real
            // entries climb from prepareFrom in steps no wider than that. An entry past such a gap is
            // forged: adopting it would make this leader owe every instance before it as a no-op.
            var highest: Instance = 0
            for i in best.keys.sorted() {
                guard i <= max(highest, prepareFrom) &+ maxInstanceLead else {
                    best = best.filter { $0.key <= highest }
                    break
                }
                highest = i
            }
            // Instances known decided are proposed again too: a learner's recover request means their
            // votes are scattered over ballots, and re-proposing the highest-ballot value is safe. They go
            // out a window at a time (fillWindow), so a long range costs neither a burst nor a hang.
            recovering = best.mapValues(\.proposal)
            recoverNext = prepareFrom
            recoverEnd = highest
            nextInstance = max(highest + 1, prepareFrom)
        }

        /// A leader starting a new election keeps its clients' submissions: those in flight go back to the
        /// front of the queue (if they were accepted somewhere, phase 1 re-proposes them too, and learners
        /// deliver each submission once).
        private mutating func requeueInFlight() {
            guard mode == .leader else { return }
            let waiting = inFlight.keys.sorted().flatMap { inFlight[$0]!.proposal.submissions }
            inFlight = [:]
            pending.prepend(contentsOf: waiting)
        }

        // MARK: phase 2

        private mutating func fillWindow(into effects: inout ProposerEffects) {
            var fresh: [InstanceProposal] = []
            // What phase 1 found comes first: the value of the highest ballot, or a no-op in a hole.
            while inFlight.count < settings.window && recoverNext <= recoverEnd {
                let i = recoverNext
                recoverNext += 1
                let proposal = recovering.removeValue(forKey: i) ?? .noop
                inFlight[i] = InFlight(proposal: proposal, sentAt: now)
                for s in proposal.submissions { queued.insert(s.id) }
                fresh.append(InstanceProposal(instance: i, proposal: proposal))
            }
            let budget = settings.maxBatchBytes
            while inFlight.count < settings.window && !pending.isEmpty {
                var batch: [Submission] = []
                var used = 0
                while let s = pending.first {
                    let size = Wire.size(of: s)
                    if !batch.isEmpty && used + size > budget { break }
                    batch.append(s)
                    used += size
                    pending.removeFirst()
                }
                let proposal = Proposal.batch(batch)
                inFlight[nextInstance] = InFlight(proposal: proposal, sentAt: now)
                fresh.append(InstanceProposal(instance: nextInstance, proposal: proposal))
                nextInstance += 1
            }
            sendAccept(fresh, into: &effects)
        }

        private func sendAccept(_ proposals: [InstanceProposal], into effects: inout ProposerEffects) {
            for chunk in chunked(proposals, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.accept(ballot: ballot, proposals: chunk,
                                                     decidedThrough: decided.firstUndecided - 1), to: .acceptors))
            }
        }

        private mutating func vote(acceptor: UInt32, ballot b: Ballot, instance: Instance, proposal: Proposal,
                                   into effects: inout ProposerEffects) {
            guard instance > 0, !decided.contains(instance) || inFlight[instance] != nil,
                  instance <= max(decided.firstUndecided, nextInstance) &+ maxInstanceLead else { return }
            if case .decided(let p) = tally.record(acceptor: acceptor, ballot: b, instance: instance, proposal: proposal) {
                onDecided(instance, p, into: &effects)
            }
        }

        /// Instances through `through` are decided (an acceptor trimmed them): stop proposing them.
        private mutating func markDecided(through: Instance) {
            if through >= decided.firstUndecided {
                decided.advance(through: through)
                tally.forget(below: through + 1)
            }
            // Even instances already known decided may be in flight again (a recovery re-proposes them);
            // acceptors no longer answer for them.
            for (i, f) in inFlight where i <= through {
                inFlight[i] = nil
                // Whether or not they were decided there, resubmissions must be proposable again.
                for s in f.proposal.submissions { queued.remove(s.id) }
            }
            nextInstance = max(nextInstance, through + 1)
            recoverNext = max(recoverNext, through + 1)
            recovering = recovering.filter { $0.key > through }
        }

        private mutating func onDecided(_ instance: Instance, _ proposal: Proposal, into effects: inout ProposerEffects) {
            guard instance > 0 else { return }
            let isNew = decided.insert(instance)
            tally.forget(instance)
            guard mode == .leader else { return }
            let mine = inFlight.removeValue(forKey: instance)
            guard isNew || mine != nil else { return }
            if let mine {
                let chosenIDs = Set(proposal.submissions.map(\.id))
                // Another ballot decided something else here: our submissions still need an instance.
                for s in mine.proposal.submissions where !chosenIDs.contains(s.id) {
                    pending.append(s)
                }
            }
            let ids = proposal.submissions.map(\.id)
            for id in ids { queued.remove(id) }
            for chunk in chunked(ids, budget: settings.datagramPayloadBudget, size: { _ in 24 }) {
                effects.send.append(Outgoing(.chosen(chunk), to: .clients))
            }
        }
    }
}
