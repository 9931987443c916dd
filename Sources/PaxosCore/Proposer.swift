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
    ///
    /// What only a candidate or only a leader needs lives in that mode's case of `State`, so it is
    /// dropped, not reset, when the mode ends.
    public struct Proposer: Hashable, Sendable {
        public enum Mode: Hashable, Sendable { case follower, candidate, leader }

        struct InFlight: Hashable, Sendable {
            var proposal: Proposal
            var sentAt: UInt64
            /// Whether its 2A went out more than once: its decision then times no round trip.
            var resent = false
            /// The proposal's encoded size, counted in `Leader.inFlightBytes`.
            var bytes: Int
            /// What acceptors' 2Bs name it by (``Wire/digest(of:)``).
            var digest: UInt64

            init(proposal: Proposal, sentAt: UInt64) {
                self.proposal = proposal
                self.sentAt = sentAt
                self.bytes = Wire.size(of: proposal)
                self.digest = Wire.digest(of: proposal)
            }
        }

        /// Client submissions a candidate or leader holds. A follower holds none: standbys drop
        /// submissions, and clients resubmit after a failover.
        struct Submissions: Hashable, Sendable {
            /// Waiting for an instance, in the order they came.
            var waiting: Deque<Submission> = []
            /// Those waiting or in flight, so a client's resubmission is not queued twice: per client run, their
            /// sequence numbers as ranges. A client numbers its values consecutively, and they arrive, are
            /// batched and are decided mostly in that order, so a datagram's or an instance's values are one
            /// range or a few: a hash per range instead of per value (a set of ids took ~20% of the leader's
            /// samples in the closed-loop benchmark).
            private(set) var queued: [ClientRun: RangeSet<UInt64>] = [:]

            /// Queues what is not queued already, in order, until `limit` wait. Sequence numbers 0 and 2^64 - 1
            /// are dropped: no client numbers a value so (it counts from 1, and would need 2^64 values).
            mutating func add(_ incoming: [Submission], limit: Int) {
                Self.forEachRun(of: incoming) { run, sequences, range in
                    guard waiting.count < limit else { return }
                    var ranges = queued.removeValue(forKey: run) ?? RangeSet()
                    defer { if !ranges.isEmpty { queued[run] = ranges } }
                    if ranges.ranges.last.map({ $0.upperBound <= sequences.lowerBound }) ?? true {
                        // Above all this run has queued (fresh values, the usual case): every one is new.
                        let taken = min(range.count, limit - waiting.count)
                        waiting.append(contentsOf: incoming[range.prefix(taken)])
                        ranges.insert(contentsOf: sequences.lowerBound ..< sequences.lowerBound + UInt64(taken))
                        return
                    }
                    for (i, sequence) in zip(range, sequences) where !ranges.contains(sequence) {
                        guard waiting.count < limit else { return }
                        ranges.insert(contentsOf: sequence ..< sequence + 1)
                        waiting.append(incoming[i])
                    }
                }
            }

            /// Counts `submissions` as queued (a recovered proposal being proposed again).
            mutating func markQueued(_ submissions: [Submission]) {
                Self.forEachRun(of: submissions) { run, sequences, _ in queued[run, default: RangeSet()].insert(contentsOf: sequences) }
            }

            /// `submissions` are no longer queued (decided, or no longer the leader's to propose).
            mutating func unqueue(_ submissions: [Submission]) {
                Self.forEachRun(of: submissions) { run, sequences, _ in
                    guard var ranges = queued.removeValue(forKey: run) else { return }
                    ranges.remove(contentsOf: sequences)
                    if !ranges.isEmpty { queued[run] = ranges }
                }
            }

            /// Calls `body` for each stretch of `submissions` that are one client run's consecutive sequence
            /// numbers: the run, the sequence numbers, and the stretch's indices. Sequence numbers 0 and
            /// 2^64 - 1 are left out (see `add`).
            private static func forEachRun(of submissions: [Submission],
                                    _ body: (ClientRun, Range<UInt64>, Range<Int>) -> Void) {
                var start = 0
                while start < submissions.count {
                    let first = submissions[start].id
                    guard first.sequence > 0 && first.sequence < .max else { start += 1; continue }
                    var end = start + 1
                    while end < submissions.count {
                        let id = submissions[end].id
                        guard id.client == first.client, id.incarnation == first.incarnation,
                              id.sequence == first.sequence + UInt64(end - start), id.sequence < .max else { break }
                        end += 1
                    }
                    body(ClientRun(client: first.client, incarnation: first.incarnation),
                         first.sequence ..< first.sequence + UInt64(end - start), start ..< end)
                    start = end
                }
            }

            /// Takes submissions off the front for one instance: as many as fit in `budget` bytes, at least one.
            mutating func nextBatch(budget: Int) -> [Submission] {
                var batch: [Submission] = []
                var used = 0
                while let s = waiting.first {
                    let size = Wire.size(of: s)
                    if !batch.isEmpty && used + size > budget { break }
                    batch.append(s)
                    used += size
                    waiting.removeFirst()
                }
                return batch
            }
        }

        /// Runs reported chosen at one tick.
        struct ChosenReport: Hashable, Sendable {
            var runs: [ChosenRun]
            var at: UInt64
        }

        /// Phase 1: a prepare for `ballot` sent, promises being collected.
        struct Candidate: Hashable, Sendable {
            /// The first instance the prepare asks acceptors about.
            var prepareFrom: Instance
            var startedAt: UInt64
            var prepareSentAt: UInt64 = 0
            var prepareAttempts = 0
            var promises = PromiseAnswers()
            /// Acceptors that refused this candidate's ballot as implausibly far above their promise.
            var farBelow: [UInt32: Ballot] = [:]
            var submissions: Submissions
        }

        /// Phase 2: instances being decided under `ballot`.
        struct Leader: Hashable, Sendable {
            var inFlight: [Instance: InFlight] = [:]
            /// Encoded bytes of the proposals in flight: with big values the window is bounded in bytes too.
            var inFlightBytes = 0
            /// Instances phase 1 found to re-propose, from `recoverNext` through `recoverEnd`, and the values
            /// accepted in them (an instance missing here is a hole: a no-op).
            var recovering: [Instance: Proposal]
            var recoverNext: Instance
            var recoverEnd: Instance
            var lastHeartbeat: UInt64
            var submissions: Submissions
            /// The highest instance of this leader's window found decided: those in flight below it were
            /// overtaken (fast retransmission).
            var overtakenBelow: Instance = 0
            /// 2A to decision, timed on instances sent once: how long an undecided one waits to be re-sent.
            var roundTrip = RoundTrip()
            /// What it reported chosen in the last `chosenRepeatTicks` ticks, to repeat on them.
            var recentlyChosen: Deque<ChosenReport> = []

            /// A leader standing for election again keeps its clients' submissions: those in flight go back to
            /// the front of the queue (if they were accepted somewhere, phase 1 re-proposes them too, and
            /// learners deliver each submission once).
            mutating func requeueInFlight() {
                let waiting = inFlight.keys.sorted().flatMap { inFlight[$0]!.proposal.submissions }
                inFlight = [:]
                inFlightBytes = 0
                submissions.waiting.prepend(contentsOf: waiting)
            }
        }

        private enum State: Hashable, Sendable {
            /// Stands for election once the deadline passes without word from a leader.
            case follower(electionDeadline: UInt64)
            case candidate(Candidate)
            case leader(Leader)
            /// Only in passing: while `init` draws the first deadline, and while a candidate's or leader's
            /// state is taken out to be changed (see `takeLeader`); left in `state`, it would share, and so
            /// copy, the collections being changed.
            case modifying
        }

        public let id: UInt32
        /// Part of every ballot this proposer uses (see ``Ballot``): the process's incarnation, until a
        /// rebase draws another (see `onFarBelow`).
        public private(set) var incarnation: UInt32
        /// Incarnations this process has used, so a rebase never reuses one.
        private var usedIncarnations: Set<UInt32> = []
        public let settings: ProtocolSettings
        private var state: State
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
        /// The instance a leader assigns next. Kept when leading ends: votes and decisions are believed up
        /// to `maxInstanceLead` past it, or past the first undecided instance if that is higher.
        private var nextInstance: Instance = 1
        /// When a learner's recover request last made this leader stand again. Kept across modes: the
        /// election it starts ends the leadership, and the limit (one per leader timeout) must outlast it.
        private var lastRecover: UInt64?
        /// Each learner's latest report of its durable delivered prefix, and when it came (flow control).
        private var learnerProgress: [UInt32: LearnerReport] = [:]

        struct LearnerReport: Hashable, Sendable {
            var delivered: Instance
            var heardAt: UInt64
        }

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
            self.state = .modifying
            // Proposers start their first election staggered by id, so proposer 1 usually leads.
            let stagger = UInt64(max(Int(id) - 1, 0)) * settings.leaderTimeoutTicks
            self.state = .follower(electionDeadline: now + stagger + jitter())
        }

        public var mode: Mode {
            switch state {
            case .follower: .follower
            case .candidate: .candidate
            case .leader: .leader
            case .modifying: preconditionFailure("proposer state read while being changed")
            }
        }

        /// Pending submissions plus instances in flight or still to recover: what the leader has to get decided.
        public var backlog: Int {
            switch state {
            case .follower: 0
            case .candidate(let candidate): candidate.submissions.waiting.count
            case .leader(let leader):
                leader.submissions.waiting.count + leader.inFlight.count
                    + Int(clamping: leader.recoverEnd >= leader.recoverNext ? leader.recoverEnd - leader.recoverNext + 1 : 0)
            case .modifying: preconditionFailure("proposer state read while being changed")
            }
        }

        // MARK: inputs

        public mutating func on(_ message: Message) -> ProposerEffects {
            var effects = ProposerEffects()
            switch message {
            case .submit(let submissions):
                // Standbys drop submissions; clients resubmit after failover.
                if var candidate = takeCandidate() {
                    candidate.submissions.add(submissions, limit: settings.maxPending)
                    state = .candidate(candidate)
                } else if var leader = takeLeader() {
                    leader.submissions.add(submissions, limit: settings.maxPending)
                    state = .leader(leader)
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
            case .accepted(let acceptor, let b, let votes):
                guard settings.isAcceptor(acceptor) else { break }
                hear(b)
                if b == knownBallot && !isMine(b) { postponeElection() }
                for v in votes {
                    vote(acceptor: acceptor, ballot: b, instance: v.instance, digest: v.digest, into: &effects)
                }
            case .replay(let acceptor, let entries):
                guard settings.isAcceptor(acceptor) else { break }
                for e in entries {
                    vote(acceptor: acceptor, ballot: e.ballot, instance: e.instance, digest: Wire.digest(of: e.proposal),
                         value: e.proposal, into: &effects)
                }
            case .decided(let proposals):
                for p in proposals where p.instance <= max(decided.firstUndecided, nextInstance) &+ maxInstanceLead {
                    onDecided(p.instance, p.proposal, into: &effects)
                }
            case .heartbeat(let b, _):
                guard !isMine(b), b.isPlausible(after: knownBallot) else { break }
                hear(b)
                if b >= knownBallot { postponeElection() }
            case .trimmed(let acceptor, let through):
                // Only a leader retrying instances acceptors forgot needs this, and only for instances it
                // proposed: a notice beyond them says nothing it could use.
                guard settings.isAcceptor(acceptor), through < nextInstance, var leader = takeLeader() else { break }
                markDecided(through: through, leader: &leader)
                state = .leader(leader)
            case .progress(let learner, let delivered):
                guard learner >= 1, settings.learnerCount == 0 || Int(learner) <= settings.learnerCount else { break }
                if learnerProgress[learner] == nil && learnerProgress.count >= 64 {
                    // Learners are not counted (learner-count 0): forged ids must not grow this without end.
                    learnerProgress = learnerProgress.filter { now - min($0.value.heardAt, now) <= settings.flowStaleTicks }
                    guard learnerProgress.count < 64 else { break }
                }
                // Fresh from when the prefix advanced: learners repeat a report while it binds (see `flowLimit`), and a
                // repeat must not keep a learner stuck on a gap binding.
                if let previous = learnerProgress[learner], previous.delivered >= delivered { break }
                learnerProgress[learner] = LearnerReport(delivered: delivered, heardAt: now)
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
            if var leader = takeLeader() {
                fillWindow(&leader, into: &effects)
                state = .leader(leader)
            }
            return effects
        }

        public mutating func tick(now: UInt64) -> ProposerEffects {
            self.now = max(self.now, now)
            var effects = ProposerEffects()
            if case .follower(let electionDeadline) = state {
                if self.now >= electionDeadline { startElection(from: decided.firstUndecided, into: &effects) }
            } else if var candidate = takeCandidate() {
                if self.now - candidate.prepareSentAt < settings.prepareRetryTicks {
                    state = .candidate(candidate)
                } else if candidate.prepareAttempts >= settings.prepareAttempts
                            && self.now - candidate.startedAt >= settings.leaderTimeoutTicks {
                    // No quorum of complete promises for this ballot: give it up and stand again with a
                    // higher one after a random backoff, rather than wait on answers that never complete
                    // (not before a leader timeout: answers slower than the retries still get their chance).
                    stepDown()
                    state = .follower(electionDeadline: self.now + 1 + jitter())
                } else {
                    sendPrepare(&candidate, into: &effects)
                    state = .candidate(candidate)
                }
            } else if var leader = takeLeader() {
                if self.now - leader.lastHeartbeat >= settings.heartbeatTicks {
                    leader.lastHeartbeat = self.now
                    effects.send.append(Outgoing(.heartbeat(ballot: ballot, firstUndecided: decided.firstUndecided),
                                                 to: .proposers))
                }
                var retry: [InstanceProposal] = []
                let fast = settings.fastRetryTicks
                // With fast retransmission on, an instance nothing overtook (the last ones in flight, or all of them
                // while flow control holds the leader back) waits the round-trip estimate, not `acceptRetryTicks`.
                let timeout = fast > 0
                    ? leader.roundTrip.timeout(floor: fast, ceiling: settings.acceptRetryTicks) : settings.acceptRetryTicks
                var timedOut = false
                for (i, f) in leader.inFlight where self.now - f.sentAt >= timeout
                    || (fast > 0 && i < leader.overtakenBelow && self.now - f.sentAt >= fast) {
                    // Fast retransmission (overtaken) says nothing of the estimate; only what nothing overtook times out.
                    if i >= leader.overtakenBelow && self.now - f.sentAt >= timeout { timedOut = true }
                    retry.append(InstanceProposal(instance: i, proposal: f.proposal))
                    leader.inFlight[i]?.sentAt = self.now
                    leader.inFlight[i]?.resent = true
                }
                if timedOut { leader.roundTrip.timedOut() }
                retry.sort { $0.instance < $1.instance }
                sendAccept(retry, into: &effects)
                repeatChosen(&leader, into: &effects)
                fillWindow(&leader, into: &effects)
                state = .leader(leader)
            }
            return effects
        }

        // MARK: modes

        /// The candidate's state, taken out of `state` (which holds `.modifying` until it is put back) so it
        /// changes in place: the swift-nio way to keep an enum payload's collections from being copied.
        private mutating func takeCandidate() -> Candidate? {
            guard case .candidate(let candidate) = state else { return nil }
            state = .modifying
            return candidate
        }

        /// The leader's state, taken out of `state` as in `takeCandidate`.
        private mutating func takeLeader() -> Leader? {
            guard case .leader(let leader) = state else { return nil }
            state = .modifying
            return leader
        }

        // MARK: election

        private mutating func jitter() -> UInt64 {
            settings.electionBackoffTicks == 0 ? 0 : rng.next() % (settings.electionBackoffTicks + 1)
        }

        private func isMine(_ b: Ballot) -> Bool { b.proposer == id && b.incarnation == incarnation }

        /// Word from a leader (its heartbeat, or 2B votes for its ballot): a follower waits a whole leader
        /// timeout again before standing.
        private mutating func postponeElection() {
            // Drawn in every mode though only a follower uses it: skipping the draw would shift every later
            // jitter, and with it every seeded schedule.
            let deadline = now + settings.leaderTimeoutTicks + jitter()
            if case .follower = state { state = .follower(electionDeadline: deadline) }
        }

        /// An acceptor refused this candidate's prepare as implausible: its promise lies more than
        /// `maxRoundJump` rounds below the ballot. Forged ballots heard earlier (each believed a million
        /// rounds at a time) lifted this proposer there. Once a quorum says so, the proposer stands again
        /// just above their promises, with an incarnation it never used, so the lower ballot is still one
        /// no process ever used. (A handful of forged nacks must not stop the cluster for good.)
        private mutating func onFarBelow(acceptor: UInt32, promised: Ballot, into effects: inout ProposerEffects) {
            guard var candidate = takeCandidate() else { return }
            defer { state = .candidate(candidate) }
            candidate.farBelow[acceptor] = promised
            guard candidate.farBelow.count >= settings.quorum else { return }
            let base = candidate.farBelow.values.max()!
            candidate.farBelow = [:]
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
            candidate.promises.reset()
            candidate.prepareAttempts = 0
            sendPrepare(&candidate, into: &effects)
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

        /// Stands for election, as a follower whose leader went silent or as a leader a learner asked to
        /// recover (which keeps its submissions, see `Leader.requeueInFlight`).
        private mutating func startElection(from: Instance, into effects: inout ProposerEffects) {
            var submissions = Submissions()
            if var leader = takeLeader() {
                leader.requeueInFlight()
                submissions = leader.submissions
            }
            highestRound = min(max(highestRound, knownBallot.round) + 1, Ballot.maxRound)
            ballot = Ballot(round: highestRound, proposer: id, incarnation: incarnation)
            hear(ballot)
            // Persisted before the prepare leaves, so a restarted proposer never reuses this ballot.
            effects.persist = ProposerDurableState(highestRound: highestRound)
            var candidate = Candidate(prepareFrom: max(from, 1), startedAt: now, submissions: submissions)
            sendPrepare(&candidate, into: &effects)
            state = .candidate(candidate)
        }

        private func sendPrepare(_ candidate: inout Candidate, into effects: inout ProposerEffects) {
            candidate.prepareSentAt = now
            candidate.prepareAttempts += 1
            effects.send.append(Outgoing(.prepare(ballot: ballot, from: candidate.prepareFrom), to: .acceptors))
        }

        /// Back to following. What the candidate or leader held goes with its mode: promises, instances in
        /// flight, and clients' submissions (clients resubmit to the next leader).
        private mutating func stepDown() {
            state = .follower(electionDeadline: now + settings.leaderTimeoutTicks + jitter())
        }

        private mutating func onPromise(_ p: Promise, into effects: inout ProposerEffects) {
            // A trim point in the upper half of the instance space is forged: a leader marking it decided
            // would number its next instances beyond what any datagram may carry.
            guard p.ballot == ballot, settings.isAcceptor(p.acceptor), p.chunk < p.chunkCount,
                  p.trimmedThrough < Wire.maxInstance / 2, var candidate = takeCandidate() else { return }
            guard p.from == candidate.prepareFrom, candidate.promises.add(p) != nil,
                  candidate.promises.complete.count >= settings.quorum else {
                state = .candidate(candidate)
                return
            }
            becomeLeader(candidate, into: &effects)
        }

        /// Phase 1 succeeded: adopt, per instance, the value accepted in the highest ballot any promising
        /// acceptor reports; fill holes below the highest such instance with no-ops.
        private mutating func becomeLeader(_ candidate: consuming Candidate, into effects: inout ProposerEffects) {
            let complete = Array(candidate.promises.complete.values)
            effects.send.append(Outgoing(.heartbeat(ballot: ballot, firstUndecided: decided.firstUndecided), to: .proposers))
            // What any promising acceptor trimmed was delivered by every learner: decided, never to be
            // touched. It must be the highest trim point: below it this quorum may no longer know the
            // decided values (the trimming acceptor forgot them), so proposing there could choose another.
            var from = candidate.prepareFrom
            let trimmed = complete.map(\.trimmedThrough).max() ?? 0
            if trimmed >= from {
                learnDecided(through: trimmed)
                from = trimmed + 1
            }
            var best: [Instance: AcceptedEntry] = [:]
            for promise in complete {
                for e in promise.accepted where e.instance >= from {
                    if let seen = best[e.instance], seen.ballot >= e.ballot { continue }
                    best[e.instance] = e
                }
            }
            // Acceptors never accept an instance more than maxInstanceLead past what they hold, so real
            // entries climb from `from` in steps no wider than that. An entry past such a gap is forged:
            // adopting it would make this leader owe every instance before it as a no-op.
            var highest: Instance = 0
            for i in best.keys.sorted() {
                guard i <= max(highest, from) &+ maxInstanceLead else {
                    best = best.filter { $0.key <= highest }
                    break
                }
                highest = i
            }
            // Instances known decided are proposed again too: a learner's recover request means their
            // votes are scattered over ballots, and re-proposing the highest-ballot value is safe. They go
            // out a window at a time (fillWindow), so a long range costs neither a burst nor a hang.
            nextInstance = max(highest + 1, from)
            state = .leader(Leader(recovering: best.mapValues(\.proposal), recoverNext: from, recoverEnd: highest,
                                   lastHeartbeat: now, submissions: candidate.submissions))
        }

        // MARK: phase 2

        private mutating func fillWindow(_ leader: inout Leader, into effects: inout ProposerEffects) {
            var fresh: [InstanceProposal] = []
            // What phase 1 found comes first: the value of the highest ballot, or a no-op in a hole.
            // At most `window` instances, and (one at least) about `windowBytes` of proposals.
            func hasRoom(_ leader: Leader) -> Bool {
                leader.inFlight.count < settings.window && (leader.inFlight.isEmpty || leader.inFlightBytes < settings.windowBytes)
            }
            while hasRoom(leader) && leader.recoverNext <= leader.recoverEnd {
                let i = leader.recoverNext
                leader.recoverNext += 1
                let proposal = leader.recovering.removeValue(forKey: i) ?? .noop
                let entry = InFlight(proposal: proposal, sentAt: now)
                leader.inFlight[i] = entry
                leader.inFlightBytes += entry.bytes
                leader.submissions.markQueued(proposal.submissions)
                fresh.append(InstanceProposal(instance: i, proposal: proposal))
            }
            let limit = flowLimit
            while hasRoom(leader) && !leader.submissions.waiting.isEmpty && nextInstance <= limit {
                let proposal = Proposal.batch(leader.submissions.nextBatch(budget: settings.maxBatchBytes))
                let entry = InFlight(proposal: proposal, sentAt: now)
                leader.inFlight[nextInstance] = entry
                leader.inFlightBytes += entry.bytes
                fresh.append(InstanceProposal(instance: nextInstance, proposal: proposal))
                nextInstance += 1
            }
            sendAccept(fresh, into: &effects)
        }

        /// The highest fresh instance flow control lets the leader propose: `flowLead` past the delivered
        /// prefix of the slowest learner that keeps up. A report counts from when it first brought a higher
        /// prefix (learners repeat theirs on every tick while it can bind), so a learner whose prefix advanced
        /// within `flowStaleTicks` is one that delivers; a learner that stopped (dead, or stuck on a gap) goes
        /// stale and stops counting, so it holds the cluster back for `flowStaleTicks` at most. A learner more
        /// than `4 × flowLead` behind the fastest (restarted, catching up from acceptors and learners) does not
        /// count either, until it is back within that distance: the cluster goes on at the pace of the learners
        /// that keep up. Without any fresh report (none configured, all silent, none heard yet) nothing bounds
        /// the leader. Instances phase 1 found are re-proposed whatever the bound.
        var flowLimit: Instance {
            guard settings.flowLead > 0 else { return .max }
            let lead = UInt64(settings.flowLead)
            var fresh: [Instance] = []
            for report in learnerProgress.values where now - min(report.heardAt, now) <= settings.flowStaleTicks {
                fresh.append(report.delivered)
            }
            guard let fastest = fresh.max() else { return .max }
            let behind = lead.multipliedReportingOverflow(by: 4)
            let floor = behind.overflow || behind.partialValue > fastest ? 0 : fastest - behind.partialValue
            let slowest = fresh.filter { $0 >= floor }.min() ?? fastest
            let limit = slowest.addingReportingOverflow(lead)
            return limit.overflow ? .max : limit.partialValue
        }

        private func sendAccept(_ proposals: [InstanceProposal], into effects: inout ProposerEffects) {
            for chunk in chunked(proposals, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.accept(ballot: ballot, proposals: chunk,
                                                     decidedThrough: decided.firstUndecided - 1), to: .acceptors))
            }
        }

        /// Counts a 2B vote (`value`: the proposal, when the vote came with it, as in a catch-up answer).
        private mutating func vote(acceptor: UInt32, ballot b: Ballot, instance: Instance, digest: UInt64,
                                   value: Proposal? = nil, into effects: inout ProposerEffects) {
            guard instance > 0, !decided.contains(instance) || inFlight(at: instance) != nil,
                  instance <= max(decided.firstUndecided, nextInstance) &+ maxInstanceLead else { return }
            if case .decided(let d) = tally.record(acceptor: acceptor, ballot: b, instance: instance, digest: digest) {
                // 2Bs name values by digest: the value is known when it came with the vote, or when it is
                // this leader's own proposal there (same digest). Otherwise only the instance is known
                // decided: a standby needs no more, and a leader puts its own submissions back in the
                // queue (learners deliver each submission once) and tells clients nothing.
                if value != nil {
                    onDecided(instance, value, into: &effects)
                } else if let mine = inFlight(at: instance), mine.digest == d {
                    onDecided(instance, mine.proposal, into: &effects)
                } else {
                    onDecided(instance, nil, into: &effects)
                }
            }
        }

        /// This leader's entry in flight at `instance`, if any. A function of its own so that no copy of the
        /// leader outlives the lookup: one bound while `onDecided` ran shared the leader's storage, and its
        /// first `queued.remove` copied the whole set, once per decided instance (6.5% of the leader's samples
        /// in the closed-loop benchmark).
        private func inFlight(at instance: Instance) -> InFlight? {
            guard case .leader(let leader) = state else { return nil }
            return leader.inFlight[instance]
        }

        /// Every instance through `through` is decided.
        private mutating func learnDecided(through: Instance) {
            guard through >= decided.firstUndecided else { return }
            decided.advance(through: through)
            tally.forget(below: through + 1)
        }

        /// Instances through `through` are decided (an acceptor trimmed them): stop proposing them.
        private mutating func markDecided(through: Instance, leader: inout Leader) {
            learnDecided(through: through)
            // Even instances already known decided may be in flight again (a recovery re-proposes them);
            // acceptors no longer answer for them.
            for (i, f) in leader.inFlight where i <= through {
                leader.inFlight[i] = nil
                leader.inFlightBytes -= f.bytes
                // Whether or not they were decided there, resubmissions must be proposable again.
                leader.submissions.unqueue(f.proposal.submissions)
            }
            leader.recoverNext = max(leader.recoverNext, through + 1)
            leader.recovering = leader.recovering.filter { $0.key > through }
        }

        /// `instance` is decided, with `proposal` (nil: decided, but with a value this proposer does not hold).
        private mutating func onDecided(_ instance: Instance, _ proposal: Proposal?, into effects: inout ProposerEffects) {
            guard instance > 0 else { return }
            let isNew = decided.insert(instance)
            tally.forget(instance)
            guard var leader = takeLeader() else { return }
            defer { state = .leader(leader) }
            let mine = leader.inFlight.removeValue(forKey: instance)
            if let mine { leader.inFlightBytes -= mine.bytes }
            if let mine {
                leader.overtakenBelow = max(leader.overtakenBelow, instance)
                if !mine.resent { leader.roundTrip.sample(now - mine.sentAt) }
            }
            guard isNew || mine != nil else { return }
            // Mostly the leader's own proposal was decided: nothing of it goes back in the queue, and no set of
            // its ids need be built (two more hashes per value, on the leader's busiest path).
            if let mine, proposal != mine.proposal {
                let chosenIDs = Set(proposal?.submissions.map(\.id) ?? [])
                // Another ballot decided something else here: our submissions still need an instance.
                for s in mine.proposal.submissions where !chosenIDs.contains(s.id) {
                    leader.submissions.waiting.append(s)
                }
            }
            guard let proposal else { return }
            leader.submissions.unqueue(proposal.submissions)
            let runs = ChosenRun.runs(of: proposal.submissions)
            sendChosen(runs, into: &effects)
            guard settings.chosenRepeatTicks > 0, !runs.isEmpty else { return }
            if leader.recentlyChosen.last?.at == now {
                leader.recentlyChosen[leader.recentlyChosen.count - 1].runs += runs
            } else {
                leader.recentlyChosen.append(ChosenReport(runs: runs, at: now))
            }
        }

        private func sendChosen(_ runs: [ChosenRun], into effects: inout ProposerEffects) {
            for chunk in chunked(runs, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.chosen(chunk), to: .clients))
            }
        }

        /// Repeats the reports of the last `chosenRepeatTicks` ticks before this one (see ``ProtocolSettings/chosenRepeatTicks``).
        private func repeatChosen(_ leader: inout Leader, into effects: inout ProposerEffects) {
            while let first = leader.recentlyChosen.first, now - first.at > settings.chosenRepeatTicks {
                leader.recentlyChosen.removeFirst()
            }
            var runs: [ChosenRun] = []
            for report in leader.recentlyChosen where report.at < now {
                for run in report.runs { ChosenRun.append(run, to: &runs) }
            }
            sendChosen(runs, into: &effects)
        }
    }
}
