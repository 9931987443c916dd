extension Paxos {
    /// What a learner asks of its shell after one input: persist `persist` durably, then print every
    /// delivery in it in order, then send `send`.
    public struct LearnerEffects: Hashable, Sendable {
        public var persist: [DeliveredInstance] = []
        public var send: [Outgoing] = []
        /// Set when this learner can never catch up: what it misses was trimmed by the acceptors after
        /// every configured learner delivered it. The shell reports it and stops.
        public var cannotCatchUp: String?
        public init() {}

        /// The values to print, in order, once `persist` is durable.
        public var deliveries: [Delivery] { persist.flatMap(\.deliveries) }
    }

    /// Which sequence numbers of one client run were delivered: all below `floor`, and a sparse set above.
    struct DeliveredSequences: Hashable, Sendable {
        var floor: UInt64 = 1  // clients number their submissions from 1
        var above: Set<UInt64> = []

        // `above` is mostly empty (values come in order): no hash then.
        func contains(_ s: UInt64) -> Bool { s < floor || (!above.isEmpty && above.contains(s)) }

        /// Adds `s`; returns false (changing nothing) if it was there already.
        @discardableResult
        mutating func insert(_ s: UInt64) -> Bool {
            guard !contains(s) else { return false }
            if s == floor {
                floor += 1
                while !above.isEmpty, above.remove(floor) != nil { floor += 1 }
            } else {
                above.insert(s)
            }
            return true
        }
    }

    struct ClientRun: Hashable, Sendable {
        var client: UInt32
        var incarnation: UInt64
    }

    struct HeldValue: Hashable, Sendable {
        var digest: UInt64
        var proposal: Proposal
    }

    /// A learner: counts 2B votes, delivers decided instances in instance order, each submission exactly
    /// once, and catches up on instances it missed by asking acceptors and the other learners.
    public struct Learner: Hashable, Sendable {
        public let id: UInt32
        public let settings: ProtocolSettings
        /// The first instance not yet delivered.
        public private(set) var nextInstance: Instance
        /// The output position the next delivered value gets.
        public private(set) var nextPosition: UInt64
        /// The highest instance this learner has heard of (decided or voted on).
        public private(set) var highestSeen: Instance

        private var tally: VoteTally
        private var decidedAhead: [Instance: Proposal] = [:]
        /// Values heard for undecided instances (from 2As and catch-up answers), each with its digest.
        private var held: [Instance: [HeldValue]] = [:]
        /// Instances a quorum decided whose value (by digest) this learner does not hold yet.
        private var decidedDigest: [Instance: UInt64] = [:]
        private var delivered: [ClientRun: DeliveredSequences] = [:]
        /// Recently delivered instances, kept to answer other learners' catch-up requests.
        private var served: [Instance: Proposal] = [:]
        /// Encoded bytes of `served` (big values: the cache is bounded in bytes too).
        private var servedBytes = 0
        private var servedFloor: Instance

        private var now: UInt64 = 0
        private var gapSince: UInt64?
        private var lastRequest: UInt64?
        private var lastRequestEnd: Instance = 0
        /// The highest instance any catch-up answer (replay or decided) carried.
        private var answeredThrough: Instance = 0
        /// The first instance of the last catch-up request, the bytes of values each answerer (an acceptor
        /// by id, the learners as 0) sent for it, and whether one of them reached `catchUpBytes`: then that
        /// answer was cut short, and the rest is asked for once what came is delivered.
        private var requestFrom: Instance = 0
        private var answeredBytes: [UInt32: Int] = [:]
        private var answerCutShort = false
        /// Whether an answer since the last request brought an instance this learner had not decided: only then
        /// is it catching up, and asks again at once once the answer is used up. (Without it a learner keeping
        /// up from 2As asked for its in-flight instances every `catchUpChunk` instances, answered by every
        /// acceptor with values the 2Bs were about to decide.)
        private var answersUseful = false
        private var lastHeard: UInt64 = 0
        private var lastAdvance: UInt64 = 0
        private var lastRecover: UInt64?
        private var lastProgressReport: UInt64?
        /// The delivered prefix last reported to the proposers (flow control).
        private var flowReported: Instance = 0
        /// What each acceptor said it trimmed, and when a quorum of them was first seen blocking us.
        private var trimmedBy: [UInt32: Instance] = [:]
        private var trimmedSince: UInt64?

        /// Instances a quorum of acceptors say they trimmed: the highest instance through which at least
        /// a quorum of distinct acceptors agree (0 if fewer than a quorum sent notices).
        private var trimmedAhead: Instance {
            let points = trimmedBy.values.sorted(by: >)
            return points.count >= settings.quorum ? points[settings.quorum - 1] : 0
        }

        public init(id: UInt32, settings: ProtocolSettings, restoring state: LearnerDurableState = .init(), now: UInt64 = 0) {
            self.id = id
            self.settings = settings
            self.nextInstance = max(state.nextInstance, 1)
            self.nextPosition = max(state.nextPosition, 1)
            self.highestSeen = self.nextInstance - 1
            self.servedFloor = self.nextInstance
            self.tally = VoteTally(quorum: settings.quorum)
            for s in state.delivered {
                delivered[ClientRun(client: s.client, incarnation: s.incarnation), default: .init()].insert(s.sequence)
            }
            self.now = now
            self.lastHeard = now
            self.lastAdvance = now
        }

        public mutating func on(_ message: Message) -> LearnerEffects {
            var effects = LearnerEffects()
            switch message {
            case .accept(_, let proposals, _):
                // The leader's 2A, heard on the acceptors' group: the values the 2Bs name by digest.
                for p in proposals { hold(p.instance, p.proposal, digest: Wire.digest(of: p.proposal)) }
            case .accepted(let acceptor, let ballot, let votes):
                guard settings.isAcceptor(acceptor) else { break }
                lastHeard = now
                for v in votes {
                    vote(acceptor: acceptor, ballot: ballot, instance: v.instance, digest: v.digest)
                }
            case .replay(let acceptor, let entries):
                guard settings.isAcceptor(acceptor) else { break }
                if let last = entries.last, last.instance >= nextInstance, last.instance <= nextInstance &+ maxInstanceLead {
                    answeredThrough = max(answeredThrough, last.instance)
                }
                if entries.contains(where: { undecided($0.instance) }) { answersUseful = true }
                countAnswer(from: acceptor, bytes: entries.reduce(0) { sum, e in
                    e.instance >= requestFrom && e.instance < lastRequestEnd ? sum + Wire.size(of: e) : sum
                })
                for e in entries {
                    // A catch-up answer carries the value: hold it, then count the vote for its digest.
                    let digest = Wire.digest(of: e.proposal)
                    hold(e.instance, e.proposal, digest: digest)
                    vote(acceptor: acceptor, ballot: e.ballot, instance: e.instance, digest: digest)
                }
            case .decided(let proposals):
                if let last = proposals.last, last.instance >= nextInstance, last.instance <= nextInstance &+ maxInstanceLead {
                    answeredThrough = max(answeredThrough, last.instance)
                }
                if proposals.contains(where: { undecided($0.instance) }) { answersUseful = true }
                countAnswer(from: 0, bytes: proposals.reduce(0) { sum, p in
                    p.instance >= requestFrom && p.instance < lastRequestEnd ? sum + Wire.size(of: p) : sum
                })
                for p in proposals where p.instance >= nextInstance && p.instance <= nextInstance &+ maxInstanceLead {
                    highestSeen = max(highestSeen, p.instance)
                    decidedAhead[p.instance] = p.proposal
                    tally.forget(p.instance)
                    held[p.instance] = nil
                    decidedDigest[p.instance] = nil
                }
            case .catchUp(let learner, let from, let to) where learner != id:
                serve(from: from, to: to, into: &effects)
            case .trimmed(let acceptor, let through):
                guard settings.isAcceptor(acceptor), through <= nextInstance &+ maxInstanceLead else { break }
                trimmedBy[acceptor] = max(trimmedBy[acceptor] ?? 0, through)
            default:
                break
            }
            deliverReady(into: &effects)
            return effects
        }

        public mutating func tick(now: UInt64) -> LearnerEffects {
            self.now = max(self.now, now)
            var effects = LearnerEffects()
            if settings.learnerCount > 0,
               self.now - (lastProgressReport ?? 0) >= settings.progressTicks || lastProgressReport == nil {
                // What was delivered is durable once this tick's effects are applied (persist, then send).
                lastProgressReport = self.now
                effects.send.append(Outgoing(.progress(learner: id, delivered: nextInstance - 1), to: .acceptors))
            }
            // Flow control: a report binds the leader until its prefix has not advanced for `flowStaleTicks`, so one
            // lost holds the cluster back that long (200 ms stalls under 10% loss). Repeated on every tick while it
            // can bind, a lost report costs a tick.
            if settings.flowLead > 0
                && (nextInstance - 1 > flowReported || (flowReported > 0 && self.now - lastAdvance <= settings.flowStaleTicks)) {
                reportFlow(into: &effects)
            }
            if trimmedAhead >= nextInstance {
                // Other learners may still serve what acceptors forgot; give them a while. Trimmed
                // instances were decided, so a trim point beyond anything this learner heard votes for is
                // believed only after a long silence: forged notices must not stop a learner that is
                // busy delivering, but a learner rebuilt in an idle cluster must not wait without a word.
                if trimmedSince == nil { trimmedSince = self.now }
                let plausible = trimmedAhead <= max(highestSeen, nextInstance) &+ UInt64(settings.catchUpChunk)
                let waited = self.now - max(trimmedSince!, plausible ? 0 : lastAdvance)
                if waited >= settings.recoverTicks * (plausible ? 1 : 10) {
                    effects.cannotCatchUp = "instances \(nextInstance)-\(trimmedAhead) were delivered by every learner "
                        + "and trimmed by the acceptors before this learner got them; start it from a copy of another "
                        + "learner's database"
                }
            } else {
                trimmedSince = nil
            }
            let behind = highestSeen >= nextInstance
            if behind {
                if gapSince == nil { gapSince = self.now }
                let waited = self.now - (gapSince ?? self.now)
                let sinceRequest = lastRequest.map { self.now - $0 } ?? .max
                if waited >= settings.catchUpDelayTicks && sinceRequest >= settings.catchUpRetryTicks {
                    requestCatchUp(into: &effects)
                }
                // Acceptors' votes could not settle the gap (their ballots differ, or a quorum of them
                // lost the instance's state is impossible — but a partial one is not): ask the leader.
                let stuck = self.now - max(lastAdvance, gapSince ?? self.now)
                let sinceRecover = lastRecover.map { self.now - $0 } ?? .max
                if stuck >= settings.recoverTicks && sinceRecover >= settings.recoverTicks {
                    lastRecover = self.now
                    effects.send.append(Outgoing(.recover(learner: id, from: nextInstance), to: .proposers))
                }
            } else {
                gapSince = nil
                // Idle: a learner that started after everything was decided hears nothing, so it probes —
                // at once when it starts, then whenever it has heard nothing for a while.
                let sinceRequest = lastRequest.map { self.now - $0 } ?? .max
                if lastRequest == nil || (self.now - lastHeard >= settings.probeTicks && sinceRequest >= settings.probeTicks) {
                    requestCatchUp(into: &effects)
                }
            }
            return effects
        }

        private mutating func vote(acceptor: UInt32, ballot: Ballot, instance: Instance, digest: UInt64) {
            guard instance >= nextInstance, instance <= nextInstance &+ maxInstanceLead, decidedAhead[instance] == nil,
                  decidedDigest[instance] == nil else { return }
            highestSeen = max(highestSeen, instance)
            if case .decided(let d) = tally.record(acceptor: acceptor, ballot: ballot, instance: instance, digest: digest) {
                // A quorum chose the value with digest `d`: deliverable once this learner holds a value
                // whose digest (computed here, from the value's bytes) is `d` — from the 2A, or from a
                // catch-up answer if the 2A was lost.
                if let value = held[instance]?.first(where: { $0.digest == d }) {
                    decidedAhead[instance] = value.proposal
                    held[instance] = nil
                } else {
                    decidedDigest[instance] = d
                }
            }
        }

        /// Keeps a value heard for an undecided instance, or delivers it if a quorum already chose its digest.
        private mutating func hold(_ instance: Instance, _ proposal: Proposal, digest: UInt64) {
            guard undecided(instance) else { return }
            if let d = decidedDigest[instance] {
                guard d == digest else { return }
                decidedDigest[instance] = nil
                decidedAhead[instance] = proposal
                return
            }
            var list = held.removeValue(forKey: instance) ?? []
            if !list.contains(where: { $0.digest == digest }) {
                // Different values for one instance come only from different ballots (a leader change);
                // a few are kept, the oldest dropped (it can still come back in a catch-up answer).
                if list.count >= 4 { list.removeFirst() }
                list.append(HeldValue(digest: digest, proposal: proposal))
            }
            held[instance] = list
        }

        private mutating func deliverReady(into effects: inout LearnerEffects) {
            let before = nextInstance
            while let proposal = decidedAhead.removeValue(forKey: nextInstance) {
                let submissions = proposal.submissions
                var deliveries: [Delivery] = []
                deliveries.reserveCapacity(submissions.count)
                // A batch holds long stretches of one client run: its entry is taken out of `delivered` once per
                // stretch, not looked up per value, and put back when the run changes.
                var run: ClientRun?
                var sequences = DeliveredSequences()
                var known = false  // whether `run` has an entry (taken out, or made by a value of this batch)
                for s in submissions {
                    let next = ClientRun(client: s.id.client, incarnation: s.id.incarnation)
                    if next != run {
                        if let run { delivered[run] = sequences }
                        run = next
                        let entry = delivered.removeValue(forKey: next)
                        known = entry != nil
                        sequences = entry ?? DeliveredSequences()
                    }
                    let fresh: Bool
                    if s.id.sequence == 0 {
                        // No client numbers a value 0 and proposers drop it; as before, one is delivered
                        // only in the first value of its run this learner sees.
                        fresh = !known
                    } else {
                        fresh = sequences.insert(s.id.sequence)
                    }
                    known = true
                    guard fresh else { continue }
                    deliveries.append(Delivery(position: nextPosition, submission: s))
                    nextPosition += 1
                }
                if let run { delivered[run] = sequences }
                effects.persist.append(DeliveredInstance(instance: nextInstance, deliveries: deliveries))
                remember(nextInstance, proposal)
                nextInstance += 1
            }
            guard nextInstance != before else { return }
            // Flow control: the leader proposes at most `flowLead` instances past what a learner reported,
            // so a learner tells the proposers well before it runs out (and on its next tick otherwise).
            if settings.flowLead > 0 && nextInstance - 1 >= flowReported + UInt64(max(settings.flowLead / 4, 1)) {
                reportFlow(into: &effects)
            }
            lastAdvance = now
            lastHeard = now
            gapSince = nil
            lastRecover = nil
            tally.forget(below: nextInstance)
            forgetHeld(below: nextInstance, from: before)
            // Catching up: once the previous answer is used up, ask for the next chunk at once instead of
            // waiting for a tick — when more is known to exist, or when the answer filled the whole chunk
            // (a learner that starts late, in a quiet cluster, hears of nothing beyond it).
            // An answer cut short in bytes (big values), all of it delivered and nothing known beyond: ask for
            // the rest at once too. (While later instances are known, the gap rule in `tick` asks.)
            // Only while answers bring what 2Bs did not (`answersUseful`).
            if lastRequest != nil && answersUseful
                && (nextInstance >= lastRequestEnd && (highestSeen >= nextInstance || answeredThrough + 1 >= lastRequestEnd)
                    || answerCutShort && nextInstance > answeredThrough && highestSeen < nextInstance) {
                requestCatchUp(into: &effects)
            }
        }

        /// An instance a catch-up answer may still bring: not delivered, not decided ahead, within reach.
        private func undecided(_ instance: Instance) -> Bool {
            instance >= nextInstance && instance <= nextInstance &+ maxInstanceLead && decidedAhead[instance] == nil
        }

        /// Counts what one answerer sent for the current catch-up request (see `answerCutShort`).
        private mutating func countAnswer(from answerer: UInt32, bytes: Int) {
            guard bytes > 0 else { return }
            let total = answeredBytes[answerer, default: 0] + bytes
            answeredBytes[answerer] = total
            if total >= settings.catchUpBytes { answerCutShort = true }
        }

        /// Drops the values and awaited digests of delivered instances (`from ..< below`; the rest of
        /// `held` is below `from` only after a catch-up jumped, so a full sweep then).
        private mutating func forgetHeld(below: Instance, from: Instance) {
            if below - from <= 4_096 {
                for i in from..<below { held[i] = nil; decidedDigest[i] = nil }
            } else {
                held = held.filter { $0.key >= below }
                decidedDigest = decidedDigest.filter { $0.key >= below }
            }
        }

        /// Tells the proposers the delivered prefix; durable once these effects are applied (persist, then send).
        private mutating func reportFlow(into effects: inout LearnerEffects) {
            flowReported = nextInstance - 1
            effects.send.append(Outgoing(.progress(learner: id, delivered: flowReported), to: .proposers))
        }

        private mutating func remember(_ instance: Instance, _ proposal: Proposal) {
            guard settings.learnerServeCache > 0 else { return }
            served[instance] = proposal
            servedBytes += Wire.size(of: proposal)
            while served.count > settings.learnerServeCache
                || (servedBytes > settings.learnerServeCacheBytes && servedFloor < instance)
            {
                if let old = served.removeValue(forKey: servedFloor) { servedBytes -= Wire.size(of: old) }
                servedFloor += 1
            }
        }

        private mutating func requestCatchUp(into effects: inout LearnerEffects) {
            let end = nextInstance + UInt64(settings.catchUpChunk)
            lastRequest = now
            lastRequestEnd = end
            requestFrom = nextInstance
            answeredBytes = [:]
            answerCutShort = false
            answersUseful = false
            var ranges: [Range<Instance>] = []
            if highestSeen >= nextInstance {
                // Instances beyond are known: ask only for those not decided here (a lost 2A leaves a
                // hole of one instance among delivered ones; asking for the whole chunk would bring back
                // every value of the window from every acceptor). A learner that hears of nothing ahead
                // (it started late in a quiet cluster) asks for a whole chunk, below.
                let limit = min(end, highestSeen + 1)
                // Holes of big values: as many instances as `catchUpBytes` holds of the largest value known in
                // this stretch (each answerer caps each range it answers, and 8 ranges of 1 MiB values were
                // 8 MiB from every answerer into one receive buffer; one instance at least). The request then
                // ends where the last range does, so that using it up asks for the next one at once.
                let largest = (nextInstance..<limit).reduce(0) { largest, i in
                    let known = decidedAhead[i].map(Wire.size(of:)) ?? held[i]?.map { Wire.size(of: $0.proposal) }.max() ?? 0
                    return max(largest, known)
                }
                var budget = largest > 0 ? max(1, settings.catchUpBytes / largest) : Int.max
                var i = nextInstance
                while i < limit && ranges.count < Self.maxCatchUpRanges && budget > 0 {
                    guard decidedAhead[i] == nil else { i += 1; continue }
                    var j = i + 1
                    while j < limit && decidedAhead[j] == nil && UInt64(budget) > j - i { j += 1 }
                    ranges.append(i..<j)
                    budget -= Int(j - i)
                    i = j
                }
                if budget == 0, let last = ranges.last { lastRequestEnd = last.upperBound }
            }
            if ranges.isEmpty { ranges = [nextInstance..<end] }
            for r in ranges {
                let request = Message.catchUp(learner: id, from: r.lowerBound, to: r.upperBound)
                effects.send.append(Outgoing(request, to: .acceptors))
                effects.send.append(Outgoing(request, to: .learners))
            }
        }

        /// Separate holes asked for at once; the rest wait for the next request.
        static let maxCatchUpRanges = 8

        private func serve(from: Instance, to: Instance, into effects: inout LearnerEffects) {
            guard from > 0, to > from, from < nextInstance else { return }
            let end = min(to, nextInstance, from &+ UInt64(settings.catchUpChunk))
            guard end > from else { return }
            var found: [InstanceProposal] = []
            for i in max(from, servedFloor)..<max(end, max(from, servedFloor)) {
                if let p = served[i] { found.append(InstanceProposal(instance: i, proposal: p)) }
            }
            found = prefix(found, reaching: settings.catchUpBytes, size: Wire.size(of:))
            for chunk in chunked(found, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.decided(chunk), to: .learners))
            }
        }
    }
}
