extension Paxos {
    /// What an acceptor asks of its shell after one input: persist `persist`, then send `send`.
    public struct AcceptorEffects: Hashable, Sendable {
        public var persist = AcceptorWrite()
        public var send: [Outgoing] = []
        /// What the operator should hear of (the shell logs these at notice level).
        public var events: [AcceptorEvent] = []
        public init() {}
    }

    public enum AcceptorEvent: Hashable, Sendable {
        /// A blank acceptor found a majority of acceptors blank and no sign of history: a new cluster.
        case startedFresh(blank: [UInt32])
        /// A blank acceptor fixed the barrier above every ballot it may have voted in before.
        case raisingBarrier(Ballot, promisedBy: [UInt32])
        /// A blank acceptor rebuilt its state from a majority of the others and votes again.
        case recovered(from: [UInt32], promised: Ballot, entries: Int, trimmedThrough: Instance)
    }

    /// How an acceptor that has never promised anything starts.
    public enum BlankStart: Hashable, Sendable {
        /// Ask the other acceptors first (the shells, the simulator): it may have lost its disk.
        case recover
        /// Vote at once: the caller knows the cluster is new (unit tests of single roles).
        case vote
    }

    /// An acceptor: keeps one promise for all instances and the last value it accepted in each.
    ///
    /// Its promise covers every instance, so one prepare prepares a leader for the whole rest of the
    /// log. It answers only after its shell persisted the step's write.
    ///
    /// An acceptor without state (it never promised anything) cannot tell a new cluster from its own lost
    /// disk, and voting as new after losing the disk can decide a second value where its lost vote helped
    /// decide the first. So it takes no part until it knows, recovering as in "Paxos Made Live":
    /// 1. It asks every acceptor for its promise. A majority of acceptors blank (itself included), none
    ///    with state and no sign of history (a learner that delivered something, a leader that decided
    ///    something): the cluster is new and it votes at once.
    /// 2. Otherwise, from a majority of the OTHER acceptors' promises it takes the highest, M. Every
    ///    ballot it may have voted in before was promised by a majority first, and that majority meets
    ///    this one in an acceptor that still remembers, so M is at least that ballot.
    /// 3. It asks the others to raise their promise to the barrier just above M and to send their whole
    ///    state once raised. With a majority of such answers it adopts, per instance, the value of the
    ///    highest ballot, their highest promise and trim point, persists all that, and votes again.
    ///    Any value its lost vote helped choose was accepted by another member of that choosing majority
    ///    before it passed the barrier, so the rebuilt state holds it (or a higher ballot's, which Paxos
    ///    makes the same value); and no ballot up to M can complete any more.
    /// Losing a majority's disks at once is beyond any Paxos: the recovering acceptors then wait.
    public struct Acceptor: Hashable, Sendable {
        struct Recovery: Hashable, Sendable {
            /// Echoed by the answers; drawn anew for each step.
            var request: UInt64
            /// When the recovery began: a new cluster is declared only after every running acceptor had
            /// time to say it is there (`present`), so one lost answer cannot hide a cluster's history.
            var since: UInt64 = 0
            var answers = PromiseAnswers()
            /// The barrier once fixed (nil while the promises of step 1 are being gathered).
            var barrier: Ballot?
            /// A sign that the cluster has history, so it cannot be new.
            var historySeen = false
            var lastRequest: UInt64?
            /// When the barrier was fixed: a recovery whose barrier the others will not raise to (a forged
            /// answer inflated it) starts over after a while.
            var barrierSince: UInt64 = 0
        }

        public let id: UInt32
        public let settings: ProtocolSettings
        public private(set) var promised: Ballot
        public private(set) var accepted: [Instance: AcceptedEntry]
        /// Entries a recovery copied from other acceptors. They are knowledge, not votes: promises and
        /// state answers report them (a leader must see them), catch-up answers never do, because a
        /// learner counts those as this acceptor's votes and a copied vote could complete a quorum that
        /// never was.
        public private(set) var inherited: [Instance: AcceptedEntry]
        /// Instances through this one were delivered by every learner and forgotten.
        public private(set) var trimmedThrough: Instance
        /// The highest instance accepted (or trimmed): 2As more than `maxInstanceLead` beyond it are refused.
        public private(set) var highestAccepted: Instance
        /// What each learner reported durably delivered (not persisted: learners report again).
        private var learnerProgress: [UInt32: Instance] = [:]
        /// The highest decided prefix a leader announced in its 2As (not persisted: leaders repeat it).
        private var leaderDecided: Instance = 0
        private var recovery: Recovery?
        private var rng: SplitMix64
        private var now: UInt64
        private var lastPresence: UInt64?

        public init(id: UInt32, settings: ProtocolSettings, restoring state: AcceptorDurableState = .init(),
                    seed: UInt64 = 0, now: UInt64 = 0, blankStart: BlankStart = .recover) {
            self.id = id
            self.settings = settings
            self.promised = state.promised
            self.trimmedThrough = state.trimmedThrough
            var accepted: [Instance: AcceptedEntry] = [:]
            accepted.reserveCapacity(state.accepted.count)
            for e in state.accepted where e.instance > state.trimmedThrough { accepted[e.instance] = e }
            self.accepted = accepted
            var inherited: [Instance: AcceptedEntry] = [:]
            for e in state.inherited where e.instance > state.trimmedThrough && accepted[e.instance] == nil {
                inherited[e.instance] = e
            }
            self.inherited = inherited
            self.highestAccepted = max(accepted.keys.max() ?? 0, inherited.keys.max() ?? 0, state.trimmedThrough)
            self.rng = SplitMix64(seed: seed ^ UInt64(id))
            self.now = now
            let blank = state.promised == .zero && accepted.isEmpty && inherited.isEmpty && state.trimmedThrough == 0
            if state.recovering || (blank && blankStart == .recover) {
                recovery = Recovery(request: rng.next(), since: now)
            }
        }

        /// True while this acceptor rebuilds its state and takes no part in the protocol.
        public var isRecovering: Bool { recovery != nil }

        /// The request the answers of the current recovery step must echo.
        public var recoveryRequest: UInt64? { recovery?.request }

        /// The durable state this acceptor would be rebuilt from.
        public var durableState: AcceptorDurableState {
            AcceptorDurableState(promised: promised,
                                 accepted: accepted.values.sorted { $0.instance < $1.instance },
                                 inherited: inherited.values.sorted { $0.instance < $1.instance },
                                 trimmedThrough: trimmedThrough, recovering: recovery != nil)
        }

        /// Own votes and inherited entries, by instance: what promises and state answers report.
        private func known(from: Instance) -> [AcceptedEntry] {
            var all = accepted.values.filter { $0.instance >= from }
            all += inherited.values.filter { $0.instance >= from && accepted[$0.instance] == nil }
            return all.sorted { $0.instance < $1.instance }
        }

        public mutating func on(_ message: Message) -> AcceptorEffects {
            var effects = AcceptorEffects()
            if recovery != nil {
                onWhileRecovering(message, into: &effects)
                return effects
            }
            switch message {
            case .prepare(let ballot, let from):
                onPrepare(ballot: ballot, from: from, into: &effects)
            case .accept(let ballot, let proposals, let decidedThrough):
                onAccept(ballot: ballot, proposals: proposals, decidedThrough: decidedThrough, into: &effects)
            case .catchUp(let learner, let from, let to):
                onCatchUp(learner: learner, from: from, to: to, into: &effects)
            case .progress(let learner, let delivered):
                onProgress(learner: learner, delivered: delivered, into: &effects)
            case .recoverState(let acceptor, let barrier, let request):
                onRecoverState(from: acceptor, barrier: barrier, request: request, into: &effects)
            default:
                break  // not for acceptors
            }
            return effects
        }

        public mutating func tick(now: UInt64) -> AcceptorEffects {
            self.now = max(self.now, now)
            var effects = AcceptorEffects()
            if lastPresence.map({ self.now - $0 >= settings.presenceTicks }) ?? true {
                lastPresence = self.now
                effects.send.append(Outgoing(.present(acceptor: id, promised: promised), to: .acceptors))
            }
            guard var r = recovery else { return effects }
            if r.lastRequest.map({ self.now - $0 >= settings.recoverStateRetryTicks }) ?? true {
                r.lastRequest = self.now
                effects.send.append(Outgoing(.recoverState(acceptor: id, barrier: r.barrier ?? .zero, request: r.request),
                                             to: .acceptors))
            }
            if r.barrier != nil && self.now - r.barrierSince >= 10 * settings.recoverStateRetryTicks {
                r = Recovery(request: rng.next(), since: r.since, historySeen: r.historySeen)
            }
            recovery = r
            advanceRecovery(into: &effects)  // a lone acceptor (acceptor-count 1) hears no answers
            return effects
        }

        private mutating func onPrepare(ballot: Ballot, from: Instance, into effects: inout AcceptorEffects) {
            guard ballot.isPlausible(after: promised) else {
                // Too far above: forged, or a proposer that believed forged ballots. Say where this
                // acceptor stands, so a real proposer can come back down (see Proposer.onFarBelow).
                if ballot.isValid && ballot.round > promised.round {
                    effects.send.append(Outgoing(.nack(acceptor: id, promised: promised), to: .proposers))
                }
                return
            }
            guard ballot >= promised else {
                effects.send.append(Outgoing(.nack(acceptor: id, promised: promised), to: .proposers))
                return
            }
            if ballot > promised {
                promised = ballot
                effects.persist.promised = ballot
            }
            // An equal ballot is a retransmitted prepare (its promise was lost): answer again, from the
            // state as it is now, under a new answer label. Ballots carry the proposer's incarnation, so
            // an equal ballot is the same proposer process asking again, never another proposal.
            sendState(known(from: from), ballot: ballot, from: from, wrap: Message.promise, to: .proposers, into: &effects)
        }

        /// Sends `entries` as one labelled answer, split into chunks that fit a datagram.
        private mutating func sendState(_ entries: [AcceptedEntry], ballot: Ballot, from: Instance,
                                        wrap: (Promise) -> Message, to group: Group, into effects: inout AcceptorEffects) {
            let chunks = chunked(entries, budget: settings.datagramPayloadBudget, size: Wire.size(of:))
            let count = UInt32(max(chunks.count, 1))
            let label = rng.next()
            for (k, chunk) in (chunks.isEmpty ? [[]] : chunks).enumerated() {
                effects.send.append(Outgoing(wrap(Promise(acceptor: id, ballot: ballot, from: from, answer: label,
                                                          chunk: UInt32(k), chunkCount: count,
                                                          trimmedThrough: trimmedThrough, accepted: chunk)),
                                             to: group))
            }
        }

        private mutating func onAccept(ballot: Ballot, proposals: [InstanceProposal], decidedThrough: Instance,
                                       into effects: inout AcceptorEffects) {
            guard ballot.isPlausible(after: promised), !proposals.isEmpty else { return }
            guard ballot >= promised else {
                effects.send.append(Outgoing(.nack(acceptor: id, promised: promised), to: .proposers))
                return
            }
            if ballot > promised {
                promised = ballot
                effects.persist.promised = ballot
            }
            if decidedThrough <= highestAccepted &+ maxInstanceLead { leaderDecided = max(leaderDecided, decidedThrough) }
            var taken: [InstanceProposal] = []
            taken.reserveCapacity(proposals.count)
            if proposals.contains(where: { $0.instance > 0 && $0.instance <= trimmedThrough }) {
                // A leader still proposing what every learner has: tell it, instead of a vote.
                effects.send.append(Outgoing(.trimmed(acceptor: id, through: trimmedThrough), to: .proposers))
            }
            for p in proposals where p.instance > trimmedThrough {
                // Far beyond anything this acceptor holds: forged or corrupt (see maxInstanceLead).
                guard p.instance <= highestAccepted &+ maxInstanceLead else { continue }
                let entry = AcceptedEntry(instance: p.instance, ballot: ballot, proposal: p.proposal)
                // A retransmitted 2A changes nothing durable; its 2B is sent again all the same.
                if accepted[p.instance] != entry {
                    accepted[p.instance] = entry
                    inherited[p.instance] = nil
                    effects.persist.accepted.append(entry)
                }
                highestAccepted = max(highestAccepted, p.instance)
                taken.append(p)
            }
            guard !taken.isEmpty else { return }
            effects.send.append(Outgoing(.accepted(acceptor: id, ballot: ballot, proposals: taken), to: .learners))
        }

        /// Forgets instances once every configured learner reported them durably delivered: nobody can
        /// need them from an acceptor any more, and a leader learns from promises not to touch them.
        private mutating func onProgress(learner: UInt32, delivered: Instance, into effects: inout AcceptorEffects) {
            guard settings.learnerCount > 0, learner >= 1, Int(learner) <= settings.learnerCount else { return }
            learnerProgress[learner] = max(learnerProgress[learner] ?? 0, delivered)
            // Never beyond what this acceptor itself accepted (a report of instances nobody voted for is
            // forged or corrupt, and forgetting beyond them would refuse the real ones when they come),
            // nor beyond what a leader said was decided (forged reports from every learner id must not
            // make acceptors forget an undecided instance).
            guard learnerProgress.count == settings.learnerCount,
                  let reported = learnerProgress.values.min(), case let floor = min(reported, highestAccepted, leaderDecided), floor > trimmedThrough else { return }
            // Trimming per instance is wasteful: wait for a worthwhile stretch.
            guard floor - trimmedThrough >= UInt64(settings.trimBatch) || accepted.keys.allSatisfy({ $0 <= floor }) else { return }
            trimmedThrough = floor
            accepted = accepted.filter { $0.key > floor }
            inherited = inherited.filter { $0.key > floor }
            effects.persist.trimThrough = floor
        }

        /// Answers a learner's catch-up request with what this acceptor accepted; the learner counts these
        /// as votes, so a decided instance is recognised from a quorum of acceptors.
        ///
        /// Inherited entries are never sent (they are not this acceptor's votes). If the range holds some,
        /// their votes may all have been lost with disks, one at a time: this acceptor then asks the leader,
        /// for the learner, to run phases 1 and 2 over them again, which turns them into votes once more.
        private func onCatchUp(learner: UInt32, from requested: Instance, to: Instance, into effects: inout AcceptorEffects) {
            guard requested > 0, to > requested else { return }
            if requested <= trimmedThrough {
                effects.send.append(Outgoing(.trimmed(acceptor: id, through: trimmedThrough), to: .learners))
            }
            let from = max(requested, trimmedThrough + 1)
            guard to > from else { return }
            let end = min(to, from &+ UInt64(settings.catchUpChunk))
            guard end > from else { return }
            var entries: [AcceptedEntry] = []
            if UInt64(accepted.count) < end - from {
                entries = accepted.values.filter { $0.instance >= from && $0.instance < end }
                entries.sort { $0.instance < $1.instance }
            } else {
                for i in from..<end { if let e = accepted[i] { entries.append(e) } }
            }
            entries = prefix(entries, reaching: settings.catchUpBytes, size: Wire.size(of:))
            for chunk in chunked(entries, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.replay(acceptor: id, entries: chunk), to: .learners))
            }
            if !inherited.isEmpty,
               let first = inherited.keys.filter({ $0 >= from && $0 < end && accepted[$0] == nil }).min() {
                effects.send.append(Outgoing(.recover(learner: learner, from: first), to: .proposers))
            }
        }

        // MARK: recovering another acceptor

        /// A blank acceptor asks for this one's state. With a barrier, raise the promise to it first (so
        /// no ballot below it can complete any more), then send the whole state; without one, only the
        /// promise (`from` 0: no entries listed). Persist-before-send covers the raised promise.
        private mutating func onRecoverState(from acceptor: UInt32, barrier: Ballot, request: UInt64,
                                             into effects: inout AcceptorEffects) {
            guard settings.isAcceptor(acceptor), acceptor != id else { return }
            if barrier == .zero {
                effects.send.append(Outgoing(.acceptorState(Promise(acceptor: id, ballot: promised, from: 0,
                                                                    answer: rng.next(), chunk: 0, chunkCount: 1,
                                                                    trimmedThrough: trimmedThrough, accepted: []),
                                                            recovering: false, request: request),
                                             to: .acceptors))
                return
            }
            guard barrier.isWellFormed, barrier.proposer == 0, barrier.round <= promised.round &+ Ballot.maxRoundJump else { return }
            if barrier > promised {
                promised = barrier
                effects.persist.promised = barrier
            }
            sendState(known(from: 0), ballot: promised, from: trimmedThrough + 1,
                      wrap: { .acceptorState($0, recovering: false, request: request) }, to: .acceptors, into: &effects)
        }

        // MARK: recovering this acceptor

        private mutating func onWhileRecovering(_ message: Message, into effects: inout AcceptorEffects) {
            guard var r = recovery else { return }
            switch message {
            case .acceptorState(let p, _, let request):
                // Only promises a real acceptor could hold (a forged round 2^64-1 once trapped the barrier).
                guard settings.isAcceptor(p.acceptor), p.acceptor != id, p.ballot == .zero || p.ballot.isWellFormed,
                      p.ballot.round < Ballot.maxRound, p.trimmedThrough < Wire.maxInstance / 2,
                      request == r.request else { break }
                r.answers.add(p)
            case .recoverState(let acceptor, let barrier, let request):
                // Another acceptor without state. This one holds nothing either, and never voted (one disk
                // lost at a time): it says so truthfully, after raising its promise to the barrier so that
                // it will not vote below it either once it votes. Persisted with the recovering mark, so a
                // restart does not mistake that promise for history.
                guard settings.isAcceptor(acceptor), acceptor != id else { break }
                if barrier != .zero, barrier.isWellFormed, barrier.proposer == 0,
                   barrier.round <= promised.round &+ Ballot.maxRoundJump, barrier > promised {
                    promised = barrier
                    effects.persist.promised = barrier
                    effects.persist.recovering = true
                }
                effects.send.append(Outgoing(.acceptorState(Promise(acceptor: id, ballot: promised, from: barrier == .zero ? 0 : 1,
                                                                    answer: rng.next(), chunk: 0, chunkCount: 1, accepted: []),
                                                            recovering: true, request: request),
                                             to: .acceptors))
            case .progress(let learner, let delivered):
                if delivered > 0 && learner >= 1 && (settings.learnerCount == 0 || Int(learner) <= settings.learnerCount) {
                    r.historySeen = true
                }
            case .prepare(_, let from):
                if from > 1 { r.historySeen = true }
            case .present(let acceptor, let promised):
                if settings.isAcceptor(acceptor), acceptor != id, promised != .zero { r.historySeen = true }
            case .accept(_, _, let decidedThrough):
                if decidedThrough > 0 { r.historySeen = true }
            default:
                break
            }
            recovery = r
            advanceRecovery(into: &effects)
        }

        private mutating func advanceRecovery(into effects: inout AcceptorEffects) {
            guard var r = recovery else { return }
            let others = settings.quorum  // answers needed from acceptors other than this one
            let answers = Array(r.answers.complete.values)
            if r.barrier == nil {
                // An acceptor that never promised anything (blank, or voting in a new cluster and not yet
                // asked) has no history to give.
                let blank = answers.filter { $0.ballot == .zero && $0.trimmedThrough == 0 }
                if blank.count == answers.count, promised == .zero, !r.historySeen {
                    // Nobody has said it holds anything: a new cluster, once every running acceptor had
                    // time to say otherwise.
                    guard blank.count + 1 >= settings.quorum,
                          now - r.since >= settings.presenceTicks + settings.recoverStateRetryTicks else { return }
                    recovery = nil
                    effects.events.append(.startedFresh(blank: ([id] + blank.map(\.acceptor)).sorted()))
                    return
                }
                // Acceptors without state count too: they never voted (one disk lost at a time), so a
                // ballot this one voted in was promised by some acceptor with state among the answers.
                guard answers.count >= others else { return }
                let highest = answers.map(\.ballot).max()!
                let barrier = Ballot.barrier(above: max(highest, promised))
                r.barrier = barrier
                r.barrierSince = now
                r.lastRequest = now
                r.request = rng.next()
                r.answers.reset()
                effects.events.append(.raisingBarrier(barrier, promisedBy: answers.map(\.acceptor).sorted()))
                effects.send.append(Outgoing(.recoverState(acceptor: id, barrier: barrier, request: r.request), to: .acceptors))
                recovery = r
                return
            }
            let barrier = r.barrier!
            // Raised to the barrier, and not absurdly beyond it (adopting a forged promise far above would
            // make this acceptor refuse every real ballot).
            let raised = answers.filter {
                $0.ballot >= barrier && $0.from >= 1 && $0.ballot.round <= barrier.round &+ Ballot.maxRoundJump
            }
            guard raised.count >= others else { return }
            var best: [Instance: AcceptedEntry] = [:]
            let trimmed = raised.map(\.trimmedThrough).max() ?? 0
            for answer in raised {
                for e in answer.accepted where e.instance > trimmed {
                    if let seen = best[e.instance], seen.ballot >= e.ballot { continue }
                    best[e.instance] = e
                }
            }
            promised = max(promised, raised.map(\.ballot).max()!)
            trimmedThrough = trimmed
            inherited = best
            highestAccepted = max(best.keys.max() ?? 0, trimmed)
            recovery = nil
            effects.persist.promised = promised
            effects.persist.recovering = false
            effects.persist.inherited = best.values.sorted { $0.instance < $1.instance }
            if trimmed > 0 { effects.persist.trimThrough = trimmed }
            effects.events.append(.recovered(from: raised.map(\.acceptor).sorted(), promised: promised,
                                             entries: best.count, trimmedThrough: trimmed))
        }
    }
}
