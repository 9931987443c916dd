extension Paxos {
    /// What an acceptor asks of its shell after one input: persist `persist`, then send `send`.
    public struct AcceptorEffects: Hashable, Sendable {
        public var persist = AcceptorWrite()
        public var send: [Outgoing] = []
        public init() {}
    }

    /// An acceptor: keeps one promise for all instances and the last value it accepted in each.
    ///
    /// Its promise covers every instance, so one prepare prepares a leader for the whole rest of the
    /// log. It answers only after its shell persisted the step's write.
    public struct Acceptor: Hashable, Sendable {
        public let id: UInt32
        public let settings: ProtocolSettings
        public private(set) var promised: Ballot
        public private(set) var accepted: [Instance: AcceptedEntry]
        /// Instances through this one were delivered by every learner and forgotten.
        public private(set) var trimmedThrough: Instance
        /// What each learner reported durably delivered (not persisted: learners report again).
        private var learnerProgress: [UInt32: Instance] = [:]

        public init(id: UInt32, settings: ProtocolSettings, restoring state: AcceptorDurableState = .init()) {
            self.id = id
            self.settings = settings
            self.promised = state.promised
            self.trimmedThrough = state.trimmedThrough
            var accepted: [Instance: AcceptedEntry] = [:]
            accepted.reserveCapacity(state.accepted.count)
            for e in state.accepted where e.instance > state.trimmedThrough { accepted[e.instance] = e }
            self.accepted = accepted
        }

        /// The durable state this acceptor would be rebuilt from.
        public var durableState: AcceptorDurableState {
            AcceptorDurableState(promised: promised,
                                 accepted: accepted.values.sorted { $0.instance < $1.instance },
                                 trimmedThrough: trimmedThrough)
        }

        public mutating func on(_ message: Message) -> AcceptorEffects {
            var effects = AcceptorEffects()
            switch message {
            case .prepare(let ballot, let from):
                onPrepare(ballot: ballot, from: from, into: &effects)
            case .accept(let ballot, let proposals):
                onAccept(ballot: ballot, proposals: proposals, into: &effects)
            case .catchUp(_, let from, let to):
                onCatchUp(from: from, to: to, into: &effects)
            case .progress(let learner, let delivered):
                onProgress(learner: learner, delivered: delivered, into: &effects)
            default:
                break  // not for acceptors
            }
            return effects
        }

        private mutating func onPrepare(ballot: Ballot, from: Instance, into effects: inout AcceptorEffects) {
            guard ballot.isPlausible(after: promised) else { return }
            guard ballot >= promised else {
                effects.send.append(Outgoing(.nack(acceptor: id, promised: promised), to: .proposers))
                return
            }
            if ballot > promised {
                promised = ballot
                effects.persist.promised = ballot
            }
            // An equal ballot is a retransmitted prepare (its promise was lost): answer again. Proposers
            // never reuse a ballot, so this cannot serve two different proposals.
            let entries = accepted.values.filter { $0.instance >= from }.sorted { $0.instance < $1.instance }
            let chunks = chunked(entries, budget: settings.datagramPayloadBudget, size: Wire.size(of:))
            let count = UInt32(max(chunks.count, 1))
            for (k, chunk) in (chunks.isEmpty ? [[]] : chunks).enumerated() {
                effects.send.append(Outgoing(.promise(Promise(acceptor: id, ballot: ballot, from: from,
                                                              chunk: UInt32(k), chunkCount: count,
                                                              trimmedThrough: trimmedThrough, accepted: chunk)),
                                             to: .proposers))
            }
        }

        private mutating func onAccept(ballot: Ballot, proposals: [InstanceProposal], into effects: inout AcceptorEffects) {
            guard ballot.isPlausible(after: promised), !proposals.isEmpty else { return }
            guard ballot >= promised else {
                effects.send.append(Outgoing(.nack(acceptor: id, promised: promised), to: .proposers))
                return
            }
            if ballot > promised {
                promised = ballot
                effects.persist.promised = ballot
            }
            var taken: [InstanceProposal] = []
            taken.reserveCapacity(proposals.count)
            if proposals.contains(where: { $0.instance > 0 && $0.instance <= trimmedThrough }) {
                // A leader still proposing what every learner has: tell it, instead of a vote.
                effects.send.append(Outgoing(.trimmed(acceptor: id, through: trimmedThrough), to: .proposers))
            }
            for p in proposals where p.instance > trimmedThrough {
                let entry = AcceptedEntry(instance: p.instance, ballot: ballot, proposal: p.proposal)
                // A retransmitted 2A changes nothing durable; its 2B is sent again all the same.
                if accepted[p.instance] != entry {
                    accepted[p.instance] = entry
                    effects.persist.accepted.append(entry)
                }
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
            // Never beyond what this acceptor itself accepted: a report of instances nobody voted for is
            // forged or corrupt, and forgetting beyond them would refuse the real ones when they come.
            guard learnerProgress.count == settings.learnerCount,
                  let reported = learnerProgress.values.min(), let highest = accepted.keys.max(),
                  case let floor = min(reported, highest), floor > trimmedThrough else { return }
            // Trimming per instance is wasteful: wait for a worthwhile stretch.
            guard floor - trimmedThrough >= UInt64(settings.trimBatch) || accepted.keys.allSatisfy({ $0 <= floor }) else { return }
            trimmedThrough = floor
            accepted = accepted.filter { $0.key > floor }
            effects.persist.trimThrough = floor
        }

        /// Answers a learner's catch-up request with what this acceptor accepted; the learner counts these
        /// as votes, so a decided instance is recognised from a quorum of acceptors.
        private func onCatchUp(from requested: Instance, to: Instance, into effects: inout AcceptorEffects) {
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
            for chunk in chunked(entries, budget: settings.datagramPayloadBudget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.replay(acceptor: id, entries: chunk), to: .learners))
            }
        }
    }
}
