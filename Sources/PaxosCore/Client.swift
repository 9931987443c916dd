import DequeModule

extension Paxos {
    /// What a client asks of its shell after one input.
    public struct ClientEffects: Hashable, Sendable {
        public var send: [Outgoing] = []
        /// Sequence numbers of this run's values first reported decided by this input, in the order reported.
        public var decided: [UInt64] = []
        public init() {}
    }

    /// A client: numbers each value it reads, submits them to the proposers several per datagram, and
    /// resubmits every value until the leader reports it decided.
    public struct Client: Hashable, Sendable {
        struct Outstanding: Hashable, Sendable {
            var value: [UInt8]
            var sentAt: UInt64
            /// Whether it was resubmitted: its decision then times no round trip.
            var resent = false
        }

        public let id: UInt32
        public let incarnation: UInt64
        public let settings: ProtocolSettings

        private var now: UInt64
        private var nextSequence: UInt64 = 1
        /// Values read and not yet submitted, in input order.
        private var queue: Deque<[UInt8]> = []
        /// Values sent and not yet reported decided, by sequence number: `window[i]` is sequence
        /// `windowBase + i`, nil once decided, and decided slots at the front are dropped. Sequence numbers
        /// are consecutive, so a reported run is a walk over slots rather than a hash per value.
        private var window: Deque<Outstanding?> = []
        private var windowBase: UInt64 = 1
        /// The values in `window` not yet decided, and their bytes.
        private var outstandingCount = 0
        private var outstandingBytes = 0
        private var inputClosed = false
        /// The highest sequence number of this run the leader reported decided: outstanding values below it
        /// were overtaken, most likely lost (fast retransmission).
        private var highestChosen: UInt64 = 0
        /// Submission to the report of its decision, timed on values sent once (one per reported run): how long a
        /// value nothing overtook waits to be resubmitted (with fast retransmission on).
        private var roundTrip = RoundTrip()
        public private(set) var decidedCount = 0

        /// `incarnation` must differ between runs of the same client id (the shell draws it at random),
        /// so learners never confuse this run's submissions with an earlier run's.
        public init(id: UInt32, incarnation: UInt64, settings: ProtocolSettings, now: UInt64 = 0) {
            self.id = id
            self.incarnation = incarnation
            self.settings = settings
            self.now = now
        }

        /// Every value read has been submitted and decided, and no more will come.
        public var isDone: Bool { inputClosed && queue.isEmpty && outstandingCount == 0 }
        /// Values read but not yet decided.
        public var undecided: Int { queue.count + outstandingCount }
        /// The sequence number of the last value sent (0: none yet). Values are sent in the order read, each
        /// first when it enters the window: those after it wait in this client's queue.
        public var sentThrough: UInt64 { nextSequence - 1 }

        /// Values read from input, in order.
        public mutating func submit(_ values: [[UInt8]]) -> ClientEffects {
            queue.append(contentsOf: values)
            var effects = ClientEffects()
            sendFromQueue(into: &effects)
            return effects
        }

        /// No more values will be read.
        public mutating func closeInput() { inputClosed = true }

        public mutating func on(_ message: Message) -> ClientEffects {
            var effects = ClientEffects()
            guard case .chosen(let runs) = message else { return effects }
            for run in runs where run.client == id && run.incarnation == incarnation {
                // Only slots this run has: the bounds come off the wire, and a forged run may name 2^64 values.
                let from = max(run.first, windowBase)
                let through = min(run.last, nextSequence - 1)
                guard from <= through else { continue }
                var timed = false
                for sequence in from...through {
                    let slot = Int(sequence - windowBase)
                    guard let o = window[slot] else { continue }  // a repeated report counts once
                    if !timed && !o.resent {
                        timed = true
                        roundTrip.sample(now - o.sentAt)
                    }
                    window[slot] = nil
                    outstandingCount -= 1
                    outstandingBytes -= o.value.count
                    decidedCount += 1
                    highestChosen = max(highestChosen, sequence)
                    effects.decided.append(sequence)
                }
            }
            while case .some(.none) = window.first {
                window.removeFirst()
                windowBase += 1
            }
            sendFromQueue(into: &effects)
            return effects
        }

        public mutating func tick(now: UInt64) -> ClientEffects {
            self.now = max(self.now, now)
            var effects = ClientEffects()
            var late: [Submission] = []
            let fast = settings.fastRetryTicks
            // With fast retransmission on, a value nothing overtook (the last ones of an input, lost) waits the
            // round-trip estimate, not `clientRetryTicks`.
            let timeout = fast > 0 ? roundTrip.timeout(floor: fast, ceiling: settings.clientRetryTicks) : settings.clientRetryTicks
            var timedOut = false
            for slot in window.indices {
                guard let o = window[slot] else { continue }
                let seq = windowBase + UInt64(slot)
                let overtaken = fast > 0 && seq < highestChosen
                guard self.now - o.sentAt >= timeout || (overtaken && self.now - o.sentAt >= fast) else { continue }
                if !overtaken && self.now - o.sentAt >= timeout { timedOut = true }
                late.append(Submission(id: submissionID(seq), value: o.value))
                window[slot]!.sentAt = self.now
                window[slot]!.resent = true
            }
            if timedOut { roundTrip.timedOut() }
            send(late, into: &effects)  // in sequence order, as the window is
            sendFromQueue(into: &effects)
            return effects
        }

        private func submissionID(_ seq: UInt64) -> SubmissionID {
            SubmissionID(client: id, incarnation: incarnation, sequence: seq)
        }

        private mutating func sendFromQueue(into effects: inout ClientEffects) {
            var fresh: [Submission] = []
            // At most clientWindow values, and (one value at least) clientWindowBytes of them: with big
            // values a window of thousands would be gigabytes resubmitted at every retry.
            while outstandingCount < settings.clientWindow, let next = queue.first,
                  outstandingCount == 0 || outstandingBytes + next.count <= settings.clientWindowBytes {
                let value = queue.removeFirst()
                outstandingBytes += value.count
                outstandingCount += 1
                let seq = nextSequence
                nextSequence += 1
                window.append(Outstanding(value: value, sentAt: now))
                fresh.append(Submission(id: submissionID(seq), value: value))
            }
            send(fresh, into: &effects)
        }

        private func send(_ submissions: [Submission], into effects: inout ClientEffects) {
            // A datagram carries at most one batch's worth, so a leader can put it in one instance.
            let budget = min(settings.datagramPayloadBudget, settings.maxBatchBytes)
            for chunk in chunked(submissions, budget: budget, size: Wire.size(of:)) {
                effects.send.append(Outgoing(.submit(chunk), to: .proposers))
            }
        }
    }
}
