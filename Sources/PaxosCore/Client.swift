import DequeModule

extension Paxos {
    /// What a client asks of its shell after one input.
    public struct ClientEffects: Hashable, Sendable {
        public var send: [Outgoing] = []
        public init() {}
    }

    /// A client: numbers each value it reads, submits them to the proposers several per datagram, and
    /// resubmits every value until the leader reports it decided.
    public struct Client: Hashable, Sendable {
        struct Outstanding: Hashable, Sendable {
            var value: [UInt8]
            var sentAt: UInt64
        }

        public let id: UInt32
        public let incarnation: UInt64
        public let settings: ProtocolSettings

        private var now: UInt64
        private var nextSequence: UInt64 = 1
        /// Values read and not yet submitted, in input order.
        private var queue: Deque<[UInt8]> = []
        private var outstanding: [UInt64: Outstanding] = [:]
        /// Bytes of the values in `outstanding`.
        private var outstandingBytes = 0
        private var inputClosed = false
        /// The highest sequence number of this run the leader reported decided: outstanding values below it
        /// were overtaken, most likely lost (fast retransmission).
        private var highestChosen: UInt64 = 0
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
        public var isDone: Bool { inputClosed && queue.isEmpty && outstanding.isEmpty }
        /// Values read but not yet decided.
        public var undecided: Int { queue.count + outstanding.count }
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
            guard case .chosen(let ids) = message else { return effects }
            for id in ids where id.client == self.id && id.incarnation == incarnation {
                if let o = outstanding.removeValue(forKey: id.sequence) {
                    decidedCount += 1
                    outstandingBytes -= o.value.count
                    highestChosen = max(highestChosen, id.sequence)
                }
            }
            sendFromQueue(into: &effects)
            return effects
        }

        public mutating func tick(now: UInt64) -> ClientEffects {
            self.now = max(self.now, now)
            var effects = ClientEffects()
            var late: [Submission] = []
            let fast = settings.fastRetryTicks
            for (seq, o) in outstanding where self.now - o.sentAt >= settings.clientRetryTicks
                || (fast > 0 && seq < highestChosen && self.now - o.sentAt >= fast) {
                late.append(Submission(id: submissionID(seq), value: o.value))
                outstanding[seq]?.sentAt = self.now
            }
            late.sort { $0.id.sequence < $1.id.sequence }
            send(late, into: &effects)
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
            while outstanding.count < settings.clientWindow, let next = queue.first,
                  outstanding.isEmpty || outstandingBytes + next.count <= settings.clientWindowBytes {
                let value = queue.removeFirst()
                outstandingBytes += value.count
                let seq = nextSequence
                nextSequence += 1
                outstanding[seq] = Outstanding(value: value, sentAt: now)
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
