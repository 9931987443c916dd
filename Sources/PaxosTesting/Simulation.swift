import PaxosCheck
import PaxosCore
import PaxosNode

/// A deterministic, seeded simulation of a whole cluster.
///
/// Every process is the shells' own node (`AcceptorNode`, `ProposerNode`, `LearnerNode`) over an
/// in-memory disk, so the path the real processes take — admission of each datagram's header, a burst of
/// datagrams merged into one write, persisted, then sent — is the path under test. The network loses,
/// duplicates, delays, reorders and replays datagrams long after they were sent; processes crash and
/// restart from exactly what they persisted, lose their disk, or get a twin (a second process with the
/// same id and an empty disk). Each schedule draws its own settings (swarm testing). Agreement, total
/// order, validity, exactly-once and persist-before-send are checked after every step.
public struct Simulation {
    public struct Config: CustomStringConvertible, Sendable {
        public var seed: UInt64
        public var acceptorsRunning = 3
        public var proposers = 2
        public var learners = 2
        public var clients = 2
        public var valuesPerClient = 12
        public var loss = 0.0
        public var duplicate = 0.0
        public var maxDelay: UInt64 = 3
        /// Per tick, the chance that one random process crashes.
        public var crashRate = 0.0
        /// Per tick, the chance that one crashed process restarts (during the faulty phase).
        public var restartRate = 0.1
        /// Per tick, the chance that one process loses its disk (crashes and restarts with nothing).
        public var wipeRate = 0.0
        /// Per tick, the chance that an old datagram is delivered again.
        public var replayRate = 0.0
        /// Per tick, the chance that a second process starts with an acceptor's or proposer's id.
        public var twinRate = 0.0
        /// The chance that each chunk of a promise that came in several is lost, on top of `loss`: answers
        /// then complete only from retransmissions, the schedule that once mixed two answers.
        public var chunkLoss = 0.0
        /// Most datagrams handed to a node in one burst (the shells read what the socket holds).
        public var maxBurst = 1
        public var faultyTicks: UInt64 = 200
        /// After the faulty phase: every node restarted, no more loss. All must be delivered within this.
        public var healTicks: UInt64 = 4_000
        /// Learner 2 (if any) starts only at this tick.
        public var lateLearnerStart: UInt64?
        public var settings = Simulation.defaultSettings
        /// Datagrams from outside the cluster may reach it (``inject(_:to:clients:)``: a fuzzer's input, a
        /// sprayer's). An unkeyed cluster must believe plausible forgeries, so the checks that assume only
        /// its own processes speak are off — agreement and validity against the omniscient view, one total
        /// order, learners delivering only what a quorum accepted, acceptors trimming only what every learner
        /// delivered — and what no datagram may ever cause is checked instead, beside persist-before-send,
        /// exactly-once and each learner's own order: every datagram a process sends decodes to exactly
        /// what it sent, and every process of the cluster it reaches admits it.
        public var hostile = false
        /// Values are up to this long (0: one digit each). Longer than a datagram, they travel in fragments
        /// that the network loses, duplicates, delays and reorders one by one.
        public var valueBytes = 0
        /// Learners print a burst's values before persisting them (`paxos learner > file`), not after (a
        /// pipe, the library). Their output is durable once printed, as a file's is.
        public var learnersPrintFirst = false
        /// Per learner burst in the faulty phase, the chance that the learner is killed between printing
        /// and persisting, after a random part of what it printed reached its output.
        public var printCrashRate = 0.0
        /// Learners printing first commit on their ticks only, as `paxos learner > file` does
        /// (``PaxosNode/LearnerNode/pacesCommits``): printed values stay undurable until the next tick.
        public var learnersPaceCommits = false
        /// In the faulty phase, the chance that a 2A datagram is lost on its way to a learner (on top of
        /// `loss`): 2Bs carry digests, so a learner then has a decision without its value and takes the
        /// value from a catch-up answer.
        public var learnerAcceptLoss = 0.0

        public init(seed: UInt64) { self.seed = seed }

        /// A new cluster as the real processes run it (their protocol settings: acceptors start fresh only
        /// after the presence period): 3 acceptors, 2 proposers, 2 learners, one client with `values`, a
        /// perfect network, no restarts, and datagrams from outside allowed (`hostile`).
        public static func asProcessesRun(seed: UInt64, values: Int) -> Config {
            var c = Config(seed: seed)
            c.hostile = true
            c.settings = ProtocolSettings()
            c.settings.acceptorCount = 3
            c.acceptorsRunning = 3
            c.proposers = 2
            c.learners = 2
            c.clients = 1
            c.valuesPerClient = values
            c.maxDelay = 0
            c.restartRate = 0
            c.learnersPrintFirst = true  // `paxos learner > file`
            return c
        }

        /// Draws a random schedule from a seed: fault rates, sizes AND protocol settings.
        public static func random(seed: UInt64) -> Config {
            var rng = SplitMix64(seed: seed)
            func pick<T>(_ options: [T]) -> T { options[Int(rng.next() % UInt64(options.count))] }
            var c = Config(seed: seed)
            c.valuesPerClient = Int(rng.next() % 16) + 1
            c.loss = Double(rng.next() % 31) / 100  // 0–30 %
            c.duplicate = Double(rng.next() % 11) / 100
            c.maxDelay = rng.next() % 6
            c.crashRate = pick([0, 0.005, 0.02, 0.05, 0.1])
            c.wipeRate = pick([0, 0, 0.005, 0.01, 0.03])
            c.replayRate = pick([0, 0, 0.05, 0.2])
            c.twinRate = pick([0, 0, 0, 0.005, 0.01])
            c.chunkLoss = pick([0, 0, 0.3, 0.6])
            c.maxBurst = pick([1, 2, 4, 16])
            c.proposers = Int(rng.next() % 3) + 1
            c.learners = Int(rng.next() % 3) + 1
            c.clients = Int(rng.next() % 2) + 1
            c.faultyTicks = 100 + rng.next() % 300
            if c.learners >= 2 && rng.next() % 4 == 0 { c.lateLearnerStart = rng.next() % (c.faultyTicks + 200) }
            c.settings.acceptorCount = pick([3, 3, 5])
            c.acceptorsRunning = c.settings.acceptorCount
            // Small datagrams force promises, state transfers and replays into several chunks.
            c.settings.maxDatagramBytes = pick([160, 200, 260, 400, 1_000])
            c.settings.maxBatchBytes = pick([20, 60, 120])
            c.settings.window = Int(rng.next() % 31) + 1
            c.settings.trimBatch = pick([1, 2, 3, 8, 32])
            c.settings.catchUpChunk = pick([2, 4, 16, 32])
            c.settings.learnerServeCache = pick([8, 64, 512])
            c.settings.clientWindow = pick([1, 3, 6, 20])
            c.settings.prepareAttempts = pick([1, 2, 4])
            c.settings.progressTicks = pick([5, 10, 30])
            // Quick retransmissions: an acceptor answers the same prepare many times, trims between.
            c.settings.prepareRetryTicks = pick([2, 4, 8])
            // Values longer than a datagram: messages travel in fragments (drawn last: earlier draws,
            // and so every schedule without big values, stay as they were).
            c.valueBytes = pick([0, 0, 0, 0, 0, 300, 1_200, 3_000])
            // A learner's cache of decided instances bounded by bytes: other learners' catch-up then
            // falls back on the acceptors sooner.
            if c.valueBytes > 0 {
                // Up to 8 fragments a message, not 20: as much reassembly under loss and crashes per schedule,
                // at a cost the 10,000 schedules of every test run can pay (no draw, so nothing else moves).
                c.settings.maxDatagramBytes = max(c.settings.maxDatagramBytes, 400)
                c.settings.learnerServeCacheBytes = pick([4_000, 64 << 20])
                c.settings.clientWindowBytes = pick([1, 5_000, 8 << 20])
                c.settings.windowBytes = pick([1, 3_000, 2 << 20])
            }
            // Flow control: off, a leader held to a learner's heels, or loosely; reports going stale soon or late.
            c.settings.flowLead = pick([0, 1, 2, 4, 16])
            c.settings.flowStaleTicks = pick([3, 10, 40])
            // Fast retransmission of overtaken 2As and submissions: off, eager, or patient.
            c.settings.fastRetryTicks = pick([0, 1, 2, 5])
            // Learners printing before persisting (drawn last, like every new setting), killed between the two.
            c.learnersPrintFirst = pick([true, true, true, false])
            c.printCrashRate = c.learnersPrintFirst ? pick([0, 0.02, 0.1, 0.3]) : 0
            // Learners missing the leader's 2As: never beyond `loss`, or most of them (catch-up supplies the values).
            c.learnerAcceptLoss = pick([0, 0, 0.3, 0.8])
            // Catch-up answers cut short in bytes: learners must ask for the rest (most schedules' values
            // are a few bytes, so only a small budget cuts them).
            c.settings.catchUpBytes = pick([1 << 20, 1 << 20, 40, 300, 2_000])
            // Each burst's sends coalesced (one 2B for a burst's 2As, one 2A, one chosen...), or one message per input.
            c.settings.coalesceSends = pick([true, true, true, false])
            // Learners printing first commit every burst, or on their ticks only (as the processes do).
            c.learnersPaceCommits = c.learnersPrintFirst && pick([true, true, false])
            // Chosen reports repeated on the next ticks: never, once, or for a while.
            c.settings.chosenRepeatTicks = pick([0, 1, 2, 6])
            return c
        }

        public var description: String {
            let s = settings
            return "seed=\(seed) acceptors=\(acceptorsRunning)/\(s.acceptorCount) proposers=\(proposers) "
                + "learners=\(learners) clients=\(clients)x\(valuesPerClient) loss=\(loss) dup=\(duplicate) "
                + "delay≤\(maxDelay) crash=\(crashRate) wipe=\(wipeRate) replay=\(replayRate) twin=\(twinRate) "
                + "chunkLoss=\(chunkLoss) "
                + "burst≤\(maxBurst) faulty=\(faultyTicks) window=\(s.window) datagram=\(s.maxDatagramBytes) "
                + "batch=\(s.maxBatchBytes) trimBatch=\(s.trimBatch) catchUpChunk=\(s.catchUpChunk) "
                + "serveCache=\(s.learnerServeCache) clientWindow=\(s.clientWindow) prepareAttempts=\(s.prepareAttempts) "
                + "flowLead=\(s.flowLead) flowStale=\(s.flowStaleTicks) fastRetry=\(s.fastRetryTicks) chosenRepeat=\(s.chosenRepeatTicks)"
                + (learnerAcceptLoss > 0 ? " learner2ALoss=\(learnerAcceptLoss)" : "")
                + (s.catchUpBytes < 1 << 20 ? " catchUpBytes=\(s.catchUpBytes)" : "")
                + (valueBytes > 0 ? " valueBytes≤\(valueBytes)" : "")
                + (learnersPrintFirst ? " printFirst printCrash=\(printCrashRate)" : "")
                + (learnersPaceCommits ? " pacedCommits" : "")
                + (lateLearnerStart.map { " lateLearner@\($0)" } ?? "")
                + (s.coalesceSends ? "" : " uncoalesced")
        }
    }

    /// Short timeouts and tiny datagrams, so retries, elections and chunking all happen in a few ticks.
    public static var defaultSettings: ProtocolSettings {
        var s = ProtocolSettings()
        s.maxDatagramBytes = 400
        s.maxBatchBytes = 60
        s.window = 4
        s.acceptRetryTicks = 8
        s.prepareRetryTicks = 8
        s.heartbeatTicks = 3
        s.leaderTimeoutTicks = 15
        s.electionBackoffTicks = 10
        s.clientRetryTicks = 20
        s.clientWindow = 6
        s.catchUpDelayTicks = 3
        s.catchUpRetryTicks = 6
        s.probeTicks = 30
        s.recoverTicks = 40
        s.catchUpChunk = 16
        s.learnerServeCache = 64
        s.progressTicks = 10
        s.flowLead = 4
        s.flowStaleTicks = 20
        s.fastRetryTicks = 2
        s.trimBatch = 3
        s.recoverStateRetryTicks = 8
        s.presenceTicks = 10
        return s
    }

    public struct Violation: Error, CustomStringConvertible {
        public var tick: UInt64
        public var what: String
        public var description: String { "tick \(tick): \(what)" }
    }

    /// What a process's store made durable, nothing else.
    struct DiskState {
        var acceptor = AcceptorDurableState()
        var proposer = ProposerDurableState()
        var learner = LearnerDurableState()

        mutating func apply(_ write: Disk.Write) {
            switch write {
            case .acceptor(let w):
                if let p = w.promised { acceptor.promised = max(acceptor.promised, p) }
                if let r = w.recovering { acceptor.recovering = r }
                // One row per instance, own vote or inherited, as in the store.
                for entry in w.inherited {
                    acceptor.accepted.removeAll { $0.instance == entry.instance }
                    acceptor.inherited.removeAll { $0.instance == entry.instance }
                    acceptor.inherited.append(entry)
                }
                for entry in w.accepted {
                    acceptor.inherited.removeAll { $0.instance == entry.instance }
                    if let k = acceptor.accepted.firstIndex(where: { $0.instance == entry.instance }) {
                        acceptor.accepted[k] = entry
                    } else {
                        acceptor.accepted.append(entry)
                    }
                }
                if let through = w.trimThrough {
                    acceptor.accepted.removeAll { $0.instance <= through }
                    acceptor.inherited.removeAll { $0.instance <= through }
                    acceptor.trimmedThrough = max(acceptor.trimmedThrough, through)
                }
            case .proposer(let round):
                proposer.highestRound = round
            case .learner(let instances):
                for d in instances {
                    learner.nextInstance = d.instance + 1
                    for x in d.deliveries {
                        learner.delivered.append(x.submission.id)
                        learner.nextPosition = x.position + 1
                    }
                }
            }
        }
    }

    /// A process's disk, and the journal of what its node did in the current burst — writes, sends and
    /// prints in the order they happened — so the simulation can check that writes came first.
    final class Disk: AcceptorPersistence, ProposerPersistence, LearnerPersistence {
        enum Write { case acceptor(AcceptorWrite), proposer(UInt64), learner([DeliveredInstance]) }
        /// `crashed`: a learner write the process was killed in the middle of (nothing of it durable).
        enum Event { case write(Write), send(Outgoing), print([Delivery]), crashed(Write) }
        struct Killed: Error {}

        var state = DiskState()
        var journal: [Event] = []
        /// The next learner write kills the process instead (``Config/printCrashRate``).
        var killAtLearnerWrite = false

        func record(_ w: Write) {
            journal.append(.write(w))
            state.apply(w)
        }

        func write(_ w: AcceptorWrite) throws { record(.acceptor(w)) }
        func write(highestRound: UInt64) throws { record(.proposer(highestRound)) }
        func write(_ instances: [DeliveredInstance]) throws {
            if killAtLearnerWrite {
                journal.append(.crashed(.learner(instances)))
                throw Killed()
            }
            record(.learner(instances))
        }
    }

    /// One process: a role with an id, its identity on the wire, its disk, and its node while it runs.
    public final class Process {
        let key: Int
        public let role: Role
        public let id: UInt32
        public internal(set) var sender: Sender
        var disk = Disk()
        var node: (any Node)?
        /// Everything this process's outputs printed, across its restarts (reset when its disk is lost).
        var output: [Submission] = []
        var delivered = OnceEach<SubmissionID>()
        /// A learner pacing its commits printed since its last tick: its next tick's burst must persist that.
        var printedSinceTick = false
        /// Why it stopped for good (a newer twin displaced it, a learner that cannot catch up).
        var stopped: String?
        var isTwin = false
        /// A learner whose disk was lost: trimming may have passed it (it catches up from other learners,
        /// or stops saying it cannot).
        var lostDisk = false

        init(key: Int, role: Role, id: UInt32, sender: Sender) {
            self.key = key
            self.role = role
            self.id = id
            self.sender = sender
        }

        /// The same process with a disk of its own holding the same state; no node (``Simulation/copy()``).
        func copy() -> Process {
            let c = Process(key: key, role: role, id: id, sender: sender)
            c.disk.state = disk.state
            c.output = output
            c.delivered = delivered
            c.stopped = stopped
            c.isTwin = isTwin
            c.lostDisk = lostDisk
            return c
        }

        public var name: String { "\(role == .acceptor ? "A" : role == .proposer ? "P" : "L")\(id)\(isTwin ? "'" : "")" }
        public var isAlive: Bool { node != nil }
        public var acceptor: Paxos.Acceptor? { (node as? AcceptorNode)?.acceptor }
        public var proposer: Paxos.Proposer? { (node as? ProposerNode)?.proposer }
        public var learner: Paxos.Learner? { (node as? LearnerNode)?.learner }
    }

    enum Endpoint: Hashable { case process(Int), client(UInt32) }

    struct Envelope {
        var to: Endpoint
        /// The group it was sent to (a learner takes only 2As from the acceptors' group).
        var group: Group
        var bytes: [UInt8]
        var deliverAt: UInt64
        var from: String
    }

    public internal(set) var processes: [Process] = []
    public internal(set) var clients: [UInt32: Paxos.Client] = [:]

    // The omniscient view: every 2B ever sent, and what a quorum accepted.
    var votes: [Instance: [Ballot: (acceptors: Set<UInt32>, proposal: Proposal)]] = [:]
    /// Every 2A ever sent: the one value of each (instance, ballot). 2Bs name it by digest.
    var proposed: [InstanceBallot: Proposal] = [:]
    struct InstanceBallot: Hashable { var instance: Instance; var ballot: Ballot }
    var chosen: [Instance: Proposal] = [:]
    /// The one sequence every learner's output must be a prefix of.
    var reference = OneSequence<SubmissionID>()
    /// Every submission a client made, with its value.
    public internal(set) var submitted: [SubmissionID: [UInt8]] = [:]
    /// Every ballot any proposer process ever prepared: none may be used by two processes.
    var ballotsUsed: [Ballot: Int] = [:]

    public let config: Config
    var rng: SplitMix64
    public internal(set) var now: UInt64 = 0
    var network: [Envelope] = []
    /// Datagrams sent during the faulty phase, for replaying long after.
    var sentLog: [Envelope] = []
    var trace: [String] = []
    var traceAll = false
    /// Record every delivered datagram in `trace` (for replays; it costs time).
    var keepTrace = false
    var clientStart: [UInt32: UInt64] = [:]
    var clientValues: [UInt32: [[UInt8]]] = [:]
    public internal(set) var messagesDelivered = 0
    /// Fragments put on the network (messages longer than a datagram, sent in pieces).
    public internal(set) var fragmentsSent = 0

    public init(_ config: Config) {
        var config = config
        config.settings.learnerCount = config.learners
        self.config = config
        rng = SplitMix64(seed: config.seed ^ 0x5EED_5EED)
        for a in 1...UInt32(config.acceptorsRunning) { _ = addProcess(.acceptor, a, start: true) }
        for p in 1...UInt32(config.proposers) { _ = addProcess(.proposer, p, start: true) }
        for l in 1...UInt32(config.learners) {
            _ = addProcess(.learner, l, start: !(l == 2 && config.lateLearnerStart != nil))
        }
        for c in 1...UInt32(config.clients) {
            clients[c] = Paxos.Client(id: c, incarnation: rng.next(), settings: config.settings)
            clientStart[c] = rng.next() % 40
            // Small values that repeat, like the course's random 0..32767 inputs but far denser.
            clientValues[c] = (0..<config.valuesPerClient).map { _ in Array(String(rng.next() % 7).utf8) }
            if config.valueBytes > 0 {
                // Some long, some short: each its digit repeated up to valueBytes times.
                clientValues[c] = clientValues[c]!.map { v in
                    Array(repeating: v[0], count: 1 + Int(rng.next() % UInt64(config.valueBytes)))
                }
            }
        }
    }

    // MARK: processes

    /// Start times strictly increase, as wall-clock milliseconds do between a process and its restart.
    var lastStartedAt: UInt64 = 0

    mutating func newSender(_ role: Role, _ id: UInt32) -> Sender {
        lastStartedAt = max(now * 1_000, lastStartedAt + 1)
        return Sender(role: role, id: id, incarnation: UInt32(truncatingIfNeeded: rng.next() | 1), startedAt: lastStartedAt)
    }

    mutating func addProcess(_ role: Role, _ id: UInt32, start: Bool) -> Process {
        let p = Process(key: processes.count, role: role, id: id, sender: newSender(role, id))
        processes.append(p)
        if start { startNode(p) }
        return p
    }

    /// Starts (or restarts) a process's node from its disk alone, as the shells do.
    mutating func startNode(_ p: Process) {
        p.sender = newSender(p.role, p.id)  // every start is a new process
        record("t\(now) START \(p.name) incarnation \(p.sender.incarnation)")
        let s = config.settings
        switch p.role {
        case .acceptor:
            attach(p, acceptor: Paxos.Acceptor(id: p.id, settings: s, restoring: p.disk.state.acceptor, seed: rng.next(), now: now))
        case .proposer:
            attach(p, proposer: Paxos.Proposer(id: p.id, settings: s, restoring: p.disk.state.proposer, seed: rng.next(),
                                               incarnation: p.sender.incarnation, now: now))
        case .learner:
            attach(p, learner: Paxos.Learner(id: p.id, settings: s, restoring: p.disk.state.learner, now: now))
        case .client:
            break
        }
    }

    /// Gives a process the shells' node around its role, over its disk.
    func attach(_ p: Process, acceptor: Paxos.Acceptor? = nil, proposer: Paxos.Proposer? = nil, learner: Paxos.Learner? = nil) {
        let admission = Paxos.Admission(me: p.sender, fingerprint: config.settings.fingerprint)
        let disk = p.disk
        let outbox = Outbox(send: { [disk] out in disk.journal.append(.send(out)) })
        if let acceptor {
            p.node = AcceptorNode(acceptor: acceptor, store: disk, outbox: outbox, admission: admission)
        } else if let proposer {
            p.node = ProposerNode(proposer: proposer, store: disk, outbox: outbox, admission: admission)
        } else if let learner {
            // As `paxos learner` reads back its output file: what it printed past its database.
            let durable = Int(learner.nextPosition - 1)
            let ahead = p.output.count > durable ? p.output[durable...].map(\.value) : []
            p.node = LearnerNode(learner: learner, store: disk, outbox: outbox,
                                 output: { [disk] deliveries in disk.journal.append(.print(deliveries)) },
                                 printsFirst: config.learnersPrintFirst, pacesCommits: config.learnersPaceCommits,
                                 printedAhead: ahead, admission: admission)
        }
    }

    /// An independent copy of the cluster between two steps: every process gets a disk of its own and a
    /// new node around a copy of its role (between steps a node holds nothing else, but for a learner pacing
    /// its commits: its copy starts from its disk and output, as after kill -9), so one warmed-up cluster can
    /// serve many runs (the fuzzer's).
    public func copy() -> Simulation {
        var c = self
        c.processes = processes.map { $0.copy() }
        for (old, new) in zip(processes, c.processes) where old.isAlive {
            if let learner = old.node as? LearnerNode, learner.holdsUncommitted {
                c.attach(new, learner: Paxos.Learner(id: new.id, settings: config.settings, restoring: new.disk.state.learner, now: now))
            } else {
                c.attach(new, acceptor: old.acceptor, proposer: old.proposer, learner: old.learner)
            }
        }
        return c
    }

    /// The current process of a role and id (the newest that has not stopped for good).
    public func process(_ role: Role, _ id: UInt32) -> Process {
        processes.last { $0.role == role && $0.id == id && $0.stopped == nil }
            ?? processes.last { $0.role == role && $0.id == id }!
    }

    public func output(learner id: UInt32) -> [Submission] { process(.learner, id).output }

    public mutating func crash(_ role: Role, _ id: UInt32) { crash(process(role, id)) }
    public mutating func restart(_ role: Role, _ id: UInt32) { startNode(process(role, id)) }
    public mutating func wipe(_ role: Role, _ id: UInt32) { wipe(process(role, id)) }

    // MARK: running

    var totalSubmissions: Int { config.clients * config.valuesPerClient }

    /// Learners expected to deliver everything: every learner id's current process, unless it stopped
    /// for good with the documented reason (its disk was lost after the acceptors trimmed).
    var activeLearners: [Process] { processes.filter { $0.role == .learner && $0.stopped == nil } }

    public var everythingDelivered: Bool {
        clients.values.allSatisfy(\.isDone)
            && activeLearners.allSatisfy { $0.isAlive && $0.output.count == totalSubmissions
                && Int($0.disk.state.learner.nextPosition - 1) == totalSubmissions }
    }

    /// Runs the faulty phase, then heals and runs until everything is delivered. Throws the first
    /// violation of agreement, total order, validity, exactly-once, or liveness after healing.
    public mutating func run() throws(Violation) {
        while now < config.faultyTicks {
            try step(faulty: true)
        }
        heal()
        let deadline = now + config.healTicks
        while !everythingDelivered {
            guard now < deadline else {
                throw Violation(tick: now, what: "liveness: not everything delivered \(config.healTicks) ticks after healing: "
                                + progressSummary)
            }
            try step(faulty: false)
        }
        try checkFinal()
    }

    public var progressSummary: String {
        let c = clients.sorted { $0.key < $1.key }.map { "C\($0.key) undecided=\($0.value.undecided)" }
        let l = processes.filter { $0.role == .learner }.map {
            "\($0.name) delivered=\($0.output.count)/\(totalSubmissions)" + ($0.stopped.map { " stopped: \($0)" } ?? "")
        }
        let p = processes.filter { $0.role == .proposer }.map { p in
            p.proposer.map { "\(p.name) \($0.mode) ballot=\($0.ballot) next=\($0.firstUndecided) backlog=\($0.backlog)" }
                ?? "\(p.name) down" + (p.stopped.map { " (\($0))" } ?? "")
        }
        let a = processes.filter { $0.role == .acceptor }.map { p in
            p.acceptor.map { "\(p.name) promised=\($0.promised)\($0.isRecovering ? " recovering" : "")" }
                ?? "\(p.name) down" + (p.stopped.map { " (\($0))" } ?? "")
        }
        return (c + l + p + a).joined(separator: ", ")
    }

    public mutating func heal() {
        for p in processes where !p.isAlive && p.stopped == nil {
            if processes.contains(where: { $0 !== p && $0.role == p.role && $0.id == p.id && $0.stopped == nil && $0.isTwin }) {
                stopForGood(p, why: "replaced by a second process with its id")
            } else {
                startNode(p)
            }
        }
    }

    public mutating func step(faulty: Bool) throws(Violation) {
        // Clients start reading their input.
        for (c, start) in clientStart.sorted(by: { $0.key < $1.key }) where start == now {
            var client = clients[c]!
            let effects = client.submit(clientValues[c]!)
            client.closeInput()
            clients[c] = client
            for (k, v) in clientValues[c]!.enumerated() {
                submitted[SubmissionID(client: c, incarnation: client.incarnation, sequence: UInt64(k + 1))] = v
            }
            send(effects.send, from: "C\(c)", header: .unattributedClient(c, config.settings), faulty: faulty)
        }
        if let late = config.lateLearnerStart, late == now,
           let l2 = processes.first(where: { $0.role == .learner && $0.id == 2 && !$0.isAlive && $0.stopped == nil }) {
            startNode(l2)
        }

        // Deliver every datagram due now, in random order, in bursts per process.
        var due: [Envelope] = []
        var later: [Envelope] = []
        for e in network { if e.deliverAt <= now { due.append(e) } else { later.append(e) } }
        network = later
        due.shuffle(using: &rng)
        if faulty && config.replayRate > 0 && !sentLog.isEmpty && chance(config.replayRate) {
            var old = sentLog[Int(rng.next() % UInt64(sentLog.count))]
            old.from += "(replayed)"
            due.append(old)
        }
        var byProcess: [Int: [Envelope]] = [:]
        for e in due {
            switch e.to {
            case .client(let c): try deliverToClient(c, e, faulty: faulty)
            case .process(let k): byProcess[k, default: []].append(e)
            }
        }
        for k in byProcess.keys.sorted() {
            var envelopes = byProcess[k]![...]
            while !envelopes.isEmpty {
                let n = Int(rng.next() % UInt64(config.maxBurst)) + 1
                let burst = envelopes.prefix(n)
                envelopes = envelopes.dropFirst(n)
                messagesDelivered += burst.count
                if keepTrace {
                    for e in burst { record("t\(now) \(e.from)→\(processes[k].name) \(describe(e.bytes))") }
                }
                try runBurst(processes[k], faulty: faulty) { node in
                    for e in burst { node.receive(e.bytes, from: e.group) }
                }
            }
        }

        // Tick every live node: each tick is a burst of its own, as in the shells.
        for p in processes where p.isAlive {
            let now = self.now
            try runBurst(p, faulty: faulty, tick: true) { node in node.tick(now: now) }
        }
        for c in clients.keys.sorted() where clientStart[c]! <= now {
            var client = clients[c]!
            let effects = client.tick(now: now)
            clients[c] = client
            send(effects.send, from: "C\(c)", header: .unattributedClient(c, config.settings), faulty: faulty)
        }

        if faulty { injectFaults() }
        now += 1
    }

    /// Feeds one burst to a process's node, has it persist and send as the shells do, then checks the
    /// journal of the burst in order — each write against what was durable before it, each send and
    /// print against what was durable when it happened — and puts the sends on the network.
    mutating func runBurst(_ p: Process, faulty: Bool, tick: Bool = false, _ feed: (any Node) -> Void) throws(Violation) {
        guard let node = p.node else { return }
        var durable = p.disk.state
        let printsFirst = (node as? LearnerNode)?.printsFirst ?? false
        let pacesCommits = (node as? LearnerNode)?.pacesCommits ?? false
        if printsFirst && faulty && config.printCrashRate > 0 && chance(config.printCrashRate) {
            p.disk.killAtLearnerWrite = true
        }
        feed(node)
        var stoppedWith: String?
        var killed = false
        do {
            try node.endOfBurst()
        } catch is Disk.Killed {
            killed = true
        } catch {
            stoppedWith = "\(error)"
        }
        p.disk.killAtLearnerWrite = false
        let journal = p.disk.journal
        p.disk.journal = []
        var sends: [Outgoing] = []
        var printed = false
        for event in journal {
            switch event {
            case .write(let w):
                try checkWrite(p, durable: durable, w)
                durable.apply(w)
            case .crashed(let w):
                try checkWrite(p, durable: durable, w)  // what it was persisting: decided, in order
            case .send(let out):
                try checkSend(p, durable: durable, out)
                sends.append(out)
            case .print(var deliveries):
                // Killed before persisting: its output got a random part of the write (the rest, a
                // partial line at most, is cut when it restarts).
                if killed { deliveries = Array(deliveries.prefix(Int(rng.next() % UInt64(deliveries.count + 1)))) }
                p.output.append(contentsOf: deliveries.map(\.submission))
                try checkOutput(p, durable: durable, printsFirst: printsFirst)
                printed = true
            }
        }
        if killed {
            record("t\(now) KILL \(p.name) between printing and persisting (output \(p.output.count), database \(p.disk.state.learner.nextPosition - 1))")
            crash(p)
            return
        }
        // Printed first, persisted in the same burst (or, pacing its commits, by the end of its next tick's):
        // nothing printed stays undurable past it. (Output past the database is legitimate only after a
        // restart, until the values printed before it are learned again, which comes before any new print.)
        if pacesCommits && printed { p.printedSinceTick = true }
        let mustBeDurable = pacesCommits ? tick && p.printedSinceTick : printed
        if tick { p.printedSinceTick = false }
        if printsFirst && mustBeDurable && Int(durable.learner.nextPosition - 1) < p.output.count {
            throw Violation(tick: now, what: "\(p.name) printed \(p.output.count) values but persisted only \(durable.learner.nextPosition - 1) by the end of the \(pacesCommits ? "tick's " : "")burst")
        }
        let header = Wire.Header(fingerprint: config.settings.fingerprint, sender: p.sender)
        if config.hostile { try checkWire(sends, from: p, header: header) }
        send(sends, from: p.name, header: header, faulty: faulty)
        if let why = stoppedWith { stopForGood(p, why: why) }
    }

    mutating func deliverToClient(_ c: UInt32, _ e: Envelope, faulty: Bool) throws(Violation) {
        guard case .success(let message) = Wire.decode(e.bytes) else {
            throw Violation(tick: now, what: "a datagram from \(e.from) failed to decode")
        }
        var client = clients[c]!
        let effects = client.on(message)
        clients[c] = client
        send(effects.send, from: "C\(c)", header: .unattributedClient(c, config.settings), faulty: faulty)
    }

    /// A process stops for good: displaced by a newer twin (which takes its place), or a learner that
    /// was told it can never catch up.
    mutating func stopForGood(_ p: Process, why: String) {
        record("t\(now) STOP \(p.name): \(why)")
        p.node = nil
        p.stopped = why
    }

    // MARK: checks of what a node does (persist before send)

    /// A write, against what was durable before it.
    func checkWrite(_ p: Process, durable: DiskState, _ write: Disk.Write) throws(Violation) {
        switch write {
        case .acceptor(let w):
            if let promised = w.promised, promised < durable.acceptor.promised {
                throw Violation(tick: now, what: "\(p.name) lowered its promise")
            }
            if let through = w.trimThrough, !config.hostile {
                // Only what every learner durably delivered may be forgotten.
                // (A learner whose disk was lost since is rebuilding: it catches up from other learners.)
                for l in activeLearners where l.disk.state.learner.nextInstance <= through && !l.lostDisk {
                    throw Violation(tick: now, what: "\(p.name) trimmed through \(through) but \(l.name) delivered only up to \(l.disk.state.learner.nextInstance - 1)")
                }
            }
        case .proposer(let round):
            guard round > durable.proposer.highestRound else {
                throw Violation(tick: now, what: "\(p.name) reused round \(round) (disk had \(durable.proposer.highestRound))")
            }
        case .learner(let instances):
            var next = durable.learner.nextInstance
            var position = durable.learner.nextPosition
            for delivered in instances {
                guard delivered.instance == next else {
                    throw Violation(tick: now, what: "\(p.name) delivered instance \(delivered.instance), expected \(next)")
                }
                let decided = chosen[delivered.instance]
                if decided == nil && !config.hostile {
                    throw Violation(tick: now, what: "\(p.name) delivered instance \(delivered.instance), which no quorum accepted")
                }
                for d in delivered.deliveries {
                    if let decided, !config.hostile, !decided.submissions.contains(d.submission) {
                        throw Violation(tick: now, what: "\(p.name) delivered \(d.submission.id) in instance \(delivered.instance), not what was chosen there")
                    }
                    guard d.position == position else {
                        throw Violation(tick: now, what: "\(p.name) gave position \(d.position), expected \(position)")
                    }
                    position += 1
                }
                next += 1
            }
        }
    }

    /// A send, against what was durable when it was made; 2Bs feed the omniscient view.
    mutating func checkSend(_ p: Process, durable disk: DiskState, _ out: Outgoing) throws(Violation) {
        guard p.role == .acceptor || p.role == .proposer || p.role == .learner else { return }
        do {
            switch out.message {
            case .progress(_, let delivered) where p.role == .learner:
                // Acceptors forget, and leaders run ahead, on a learner's report: it names only what is on its disk.
                guard delivered < disk.learner.nextInstance else {
                    throw Violation(tick: now, what: "\(p.name) reported instances through \(delivered) delivered, but persisted only through \(disk.learner.nextInstance - 1)")
                }
            case .accept(let ballot, let proposals, _) where p.role == .proposer && !config.hostile:
                // A ballot carries one value per instance: a proposer never proposes two in one (instance, ballot).
                for ip in proposals {
                    let key = InstanceBallot(instance: ip.instance, ballot: ballot)
                    if let earlier = proposed[key], earlier != ip.proposal {
                        throw Violation(tick: now, what: "\(p.name) proposed two values in instance \(ip.instance), ballot \(ballot)")
                    }
                    proposed[key] = ip.proposal
                }
            case .accepted(let acceptor, let ballot, let votes):
                guard ballot <= disk.acceptor.promised || disk.acceptor.promised == ballot else {
                    throw Violation(tick: now, what: "\(p.name) accepted \(ballot) above its durable promise \(disk.acceptor.promised)")
                }
                for ip in votes {
                    // A 2B must only announce what is on disk — or what a later vote of the same burst
                    // replaced, or a trim of the same burst forgot: the state a one-message-at-a-time
                    // acceptor would be in after the same inputs.
                    guard ip.instance <= disk.acceptor.trimmedThrough
                        || disk.acceptor.accepted.contains(where: { $0.instance == ip.instance && $0.ballot >= ballot }) else {
                        throw Violation(tick: now, what: "\(p.name) sent a 2B for instance \(ip.instance) it has not persisted")
                    }
                    guard !config.hostile else { continue }  // forged 2As may make acceptors vote anything
                    // The vote names, by digest, the value the leader proposed in that instance and ballot.
                    guard let proposal = proposed[InstanceBallot(instance: ip.instance, ballot: ballot)] else {
                        throw Violation(tick: now, what: "\(p.name) voted in instance \(ip.instance), ballot \(ballot), which no proposer proposed")
                    }
                    guard Wire.digest(of: proposal) == ip.digest else {
                        throw Violation(tick: now, what: "\(p.name) voted in instance \(ip.instance), ballot \(ballot) for a digest not of the value proposed")
                    }
                    try observeVote(acceptor: acceptor, ballot: ballot, instance: ip.instance, proposal: proposal)
                }
            case .promise(let promise):
                if promise.ballot > disk.acceptor.promised {
                    throw Violation(tick: now, what: "\(p.name) promised \(promise.ballot) before persisting it")
                }
            case .acceptorState(let state, _, _) where state.ballot != .zero:
                if state.ballot > disk.acceptor.promised {
                    throw Violation(tick: now, what: "\(p.name) reported promise \(state.ballot) before persisting it")
                }
            case .prepare(let ballot, _):
                // Each ballot belongs to one proposer process: no two processes ever prepare the same one.
                if let owner = ballotsUsed[ballot], owner != p.key {
                    throw Violation(tick: now, what: "ballot \(ballot) prepared by \(p.name) and by \(processes[owner].name)")
                }
                ballotsUsed[ballot] = p.key
                guard ballot.round <= disk.proposer.highestRound else {
                    throw Violation(tick: now, what: "\(p.name) prepared round \(ballot.round) before persisting it")
                }
            default: break
            }
        }
    }

    /// What a learner printed since the last check: a prefix of the one sequence, each submission once,
    /// each one submitted by a client with that value.
    /// A learner that prints first may print what it has not persisted yet (decided values only: its
    /// write of them is checked against the omniscient view, even when it is killed during it).
    mutating func checkOutput(_ p: Process, durable: DiskState, printsFirst: Bool) throws(Violation) {
        guard printsFirst || Int(durable.learner.nextPosition - 1) >= p.output.count else {
            throw Violation(tick: now, what: "\(p.name) printed values it had not persisted")
        }
        var k = p.delivered.seen.count
        while k < p.output.count {
            let s = p.output[k]
            guard config.hostile || submitted[s.id] == s.value else {
                throw Violation(tick: now, what: "validity: \(p.name) delivered \(s.id) which no client submitted with that value")
            }
            guard p.delivered.observe(s.id) else {
                throw Violation(tick: now, what: "exactly-once: \(p.name) delivered \(s.id) twice")
            }
            if config.hostile {
                // Learners may have believed different forgeries: no one sequence to compare with.
            } else if let other = reference.observe(s.id, at: k) {
                throw Violation(tick: now, what: "total order: \(p.name) delivered \(s.id) at position \(k + 1), another learner delivered \(other)")
            }
            k += 1
        }
    }

    /// The omniscient tally: a quorum of distinct acceptors accepting one ballot's value chooses it, and
    /// two different values must never be chosen for one instance.
    mutating func observeVote(acceptor: UInt32, ballot: Ballot, instance: Instance, proposal: Proposal) throws(Violation) {
        guard !config.hostile else { return }  // forged 2As may make acceptors vote anything
        var forInstance = votes[instance, default: [:]]
        var entry = forInstance[ballot] ?? (acceptors: [], proposal: proposal)
        guard entry.proposal == proposal else {
            throw Violation(tick: now, what: "ballot \(ballot) carried two different values in instance \(instance)")
        }
        entry.acceptors.insert(acceptor)
        forInstance[ballot] = entry
        votes[instance] = forInstance
        if entry.acceptors.count >= config.settings.quorum {
            if let earlier = chosen[instance], earlier != proposal {
                throw Violation(tick: now, what: "agreement: instance \(instance) chose \(short(earlier)) and then \(short(proposal))")
            }
            chosen[instance] = proposal
        }
    }

    /// What a process sends decodes to exactly that, and every running process it reaches admits it.
    func checkWire(_ sends: [Outgoing], from p: Process, header: Wire.Header) throws(Violation) {
        for out in sends {
            let bytes = Wire.encode(out.message, header: header)
            guard case .success(let back) = Wire.decodeDatagram(bytes), back.header == header, back.message == out.message else {
                throw Violation(tick: now, what: "\(p.name) sent a datagram that does not round-trip: \(out.message)")
            }
            for case .process(let k) in receivers(of: out.group) where k != p.key && processes[k].isAlive {
                let verdict = Paxos.Admission(me: processes[k].sender, fingerprint: config.settings.fingerprint).verdict(on: header)
                guard verdict == .admit else {
                    throw Violation(tick: now, what: "\(processes[k].name) refuses (\(verdict)) a datagram of \(p.name): \(short(out.message))")
                }
            }
        }
    }

    /// A datagram from outside the cluster (``Config/hostile``): handed now, in a burst of its own, to every
    /// running process `to` selects (all by default: a sprayer reaches every group), and to the clients
    /// if `clients` and it decodes with the cluster's fingerprint.
    public mutating func inject(_ bytes: [UInt8], to selected: (Process) -> Bool = { _ in true },
                                clients toClients: Bool = true) throws(Violation) {
        precondition(config.hostile, "inject needs Config.hostile: the cluster's own checks assume only its processes speak")
        if keepTrace { record("t\(now) INJECT \(describe(bytes))") }
        for p in processes where p.isAlive && selected(p) {
            try runBurst(p, faulty: false) { node in node.receive(bytes) }
        }
        guard toClients, case .success(let d) = Wire.decodeDatagram(bytes), d.header.fingerprint == config.settings.fingerprint else {
            return
        }
        for c in clients.keys.sorted() where clientStart[c]! <= now {
            var client = clients[c]!
            let effects = client.on(d.message)
            clients[c] = client
            send(effects.send, from: "C\(c)", header: .unattributedClient(c, config.settings), faulty: false)
        }
    }

    // MARK: network

    mutating func chance(_ p: Double) -> Bool { Double(rng.next() % 10_000) / 10_000 < p }

    mutating func send(_ outgoing: [Outgoing], from: String, header: Wire.Header, faulty: Bool) {
        for out in outgoing {
            var chunked = false
            if case .promise(let p) = out.message, p.chunkCount > 1 { chunked = true }
            // As the shells do: a message longer than a datagram goes out in fragments, each of which the
            // network treats as a datagram of its own.
            let datagrams = Wire.datagrams(for: Wire.encode(out.message, header: header), header: header,
                                           datagramBytes: config.settings.maxDatagramBytes)
            if datagrams.count > 1 { fragmentsSent += datagrams.count }
            for bytes in datagrams {
            for to in receivers(of: out.group) {
                if faulty && chance(config.loss) { continue }
                if faulty && chunked && config.chunkLoss > 0 && chance(config.chunkLoss) { continue }
                if faulty && config.learnerAcceptLoss > 0 && out.group == .acceptors, case .process(let k) = to,
                   processes[k].role == .learner, chance(config.learnerAcceptLoss) { continue }
                let e = Envelope(to: to, group: out.group, bytes: bytes, deliverAt: now + 1 + rng.next() % (config.maxDelay + 1), from: from)
                network.append(e)
                if faulty && config.replayRate > 0 {
                    if sentLog.count < 2_000 { sentLog.append(e) } else { sentLog[Int(rng.next() % 2_000)] = e }
                }
                if faulty && chance(config.duplicate) {
                    network.append(Envelope(to: to, group: out.group, bytes: bytes, deliverAt: now + 1 + rng.next() % (config.maxDelay + 3), from: from))
                }
            }
            }
        }
    }

    func receivers(of group: Group) -> [Endpoint] {
        var endpoints: [Endpoint] = []
        for p in processes where p.role.listensTo.contains(group) { endpoints.append(.process(p.key)) }
        if Role.client.listensTo.contains(group) { endpoints += clients.keys.sorted().map { .client($0) } }
        return endpoints
    }

    // MARK: faults

    mutating func injectFaults() {
        let running = processes.filter { $0.stopped == nil }
        if config.crashRate > 0 && chance(config.crashRate) {
            let alive = running.filter(\.isAlive)
            if !alive.isEmpty { crash(alive[Int(rng.next() % UInt64(alive.count))]) }
        }
        // One acceptor's state lost at a time: a majority of acceptors without state at once is beyond
        // any Paxos. A twin counts: once it displaces the original, that id's state is the twin's (none).
        func acceptorWithoutState() -> Bool {
            let live = processes.filter { $0.role == .acceptor && $0.stopped == nil }
            // An acceptor that never promised anything has no state either, even once it votes.
            return Set(live.map(\.id)).count < live.count || live.contains { p in
                p.acceptor?.isRecovering ?? false || p.disk.state.acceptor.promised == .zero || p.disk.state.acceptor.recovering
            }
        }
        if config.wipeRate > 0 && chance(config.wipeRate) {
            let blocked = acceptorWithoutState()
            let candidates = running.filter { $0.role != .acceptor || !blocked }
            if !candidates.isEmpty { wipe(candidates[Int(rng.next() % UInt64(candidates.count))]) }
        }
        if config.twinRate > 0 && chance(config.twinRate) && !processes.contains(where: { $0.isTwin && $0.stopped == nil }) {
            let blocked = acceptorWithoutState()
            let candidates = running.filter { $0.isAlive && ($0.role == .proposer || ($0.role == .acceptor && !blocked)) }
            if !candidates.isEmpty { startTwin(of: candidates[Int(rng.next() % UInt64(candidates.count))]) }
        }
        // A process whose twin runs is replaced: restarting it too would be two disks for one id (a
        // stale one voting), which no protection here claims to survive.
        let down = running.filter { p in
            !p.isAlive && !isLateLearnerWaiting(p)
                && !processes.contains { $0 !== p && $0.role == p.role && $0.id == p.id && $0.stopped == nil && $0.isTwin }
        }
        if !down.isEmpty && chance(config.restartRate) {
            startNode(down[Int(rng.next() % UInt64(down.count))])
        }
    }

    func isLateLearnerWaiting(_ p: Process) -> Bool {
        p.role == .learner && p.id == 2 && config.lateLearnerStart.map { now <= $0 } ?? false
    }

    mutating func crash(_ p: Process) {
        record("t\(now) CRASH \(p.name)")
        p.node = nil
        p.disk.journal = []
        p.printedSinceTick = false
    }

    /// The process loses its disk: it crashes and comes back as a new process with nothing (a learner's
    /// output starts again too, as a new output file would).
    mutating func wipe(_ p: Process) {
        record("t\(now) WIPE \(p.name)")
        p.node = nil
        p.disk = Disk()
        p.lostDisk = p.role == .learner
        p.output = []
        p.delivered = OnceEach()
        p.sender = newSender(p.role, p.id)
        startNode(p)
    }

    /// A second process with the same role and id and an empty disk.
    mutating func startTwin(of original: Process) {
        let twin = addProcess(original.role, original.id, start: false)
        twin.isTwin = true
        record("t\(now) TWIN of \(original.name)")
        startNode(twin)
    }

    // MARK: checks and tracing

    public func checkFinal() throws(Violation) {
        let all = Set(submitted.keys)
        for l in activeLearners where !Checkers.undelivered(all, delivered: l.delivered.seen).isEmpty
            || !Checkers.unsubmitted(l.delivered.seen, submitted: all).isEmpty {
            throw Violation(tick: now, what: "\(l.name) delivered \(l.delivered.seen.count) distinct submissions, \(all.count) were submitted")
        }
        // Learn database = output: what a learner printed before it was killed got persisted since.
        for l in activeLearners where Int(l.disk.state.learner.nextPosition - 1) != l.output.count {
            throw Violation(tick: now, what: "\(l.name)'s database holds \(l.disk.state.learner.nextPosition - 1) values, its output \(l.output.count)")
        }
    }

    mutating func record(_ line: String) {
        if traceAll { print(line) }
        guard keepTrace else { return }
        if trace.count >= 400 { trace.removeFirst(200) }
        trace.append(line)
    }

    func describe(_ bytes: [UInt8]) -> String {
        if case .success(let f) = Wire.decodeFragment(bytes) {
            return "fragment \(f.index + 1)/\(f.count) of a message of \(f.total) bytes"
        }
        switch Wire.decodeDatagram(bytes) {
        case .success(let d): return short(d.message)
        case .failure(let e): return "undecodable: \(e)"
        }
    }

    func short(_ p: Proposal) -> String {
        switch p {
        case .noop: "noop"
        case .batch(let s): "[" + s.map { "\($0.id.client)#\($0.id.sequence)" }.joined(separator: ",") + "]"
        }
    }

    func short(_ m: Message) -> String {
        switch m {
        case .submit(let s): "submit \(s.map { "\($0.id.client)#\($0.id.sequence)" })"
        case .chosen(let runs): "chosen \(runs.map { $0.count == 1 ? "\($0.client)#\($0.first)" : "\($0.client)#\($0.first)...\($0.last)" })"
        case .prepare(let b, let from): "prepare \(b) from \(from)"
        case .promise(let p): "promise A\(p.acceptor) \(p.ballot) from \(p.from) answer \(p.answer % 1000) chunk \(p.chunk)/\(p.chunkCount) trimmed \(p.trimmedThrough) \(p.accepted.map { "\($0.instance)@\($0.ballot)=\(short($0.proposal))" })"
        case .nack(let a, let b): "nack A\(a) promised \(b)"
        case .accept(let b, let ps, let d): "2A \(b) decided≤\(d) \(ps.map { "\($0.instance)=\(short($0.proposal))" })"
        case .accepted(let a, let b, let vs): "2B A\(a) \(b) \(vs.map { "\($0.instance)=#\(String($0.digest % 0x10000, radix: 16))" })"
        case .replay(let a, let es): "replay A\(a) \(es.map { "\($0.instance)@\($0.ballot)" })"
        case .heartbeat(let b, let f): "heartbeat \(b) first \(f)"
        case .catchUp(let l, let f, let t): "catchUp L\(l) \(f)..<\(t)"
        case .decided(let ps): "decided \(ps.map(\.instance))"
        case .recover(let l, let f): "recover L\(l) from \(f)"
        case .progress(let l, let d): "progress L\(l) delivered \(d)"
        case .trimmed(let a, let t): "trimmed A\(a) through \(t)"
        case .recoverState(let a, let b, let r): "recoverState A\(a) barrier \(b) request \(r % 1000)"
        case .acceptorState(let p, let blank, _): "acceptorState\(blank ? " (blank)" : "") A\(p.acceptor) \(p.ballot) from \(p.from) chunk \(p.chunk)/\(p.chunkCount) trimmed \(p.trimmedThrough) \(p.accepted.map { "\($0.instance)@\($0.ballot)" })"
        case .present(let a, let b): "present A\(a) promised \(b)"
        }
    }
}

extension Wire.Header {
    static func unattributedClient(_ c: UInt32, _ settings: ProtocolSettings) -> Wire.Header {
        Wire.Header(fingerprint: settings.fingerprint, sender: Sender(role: .client, id: c, incarnation: 1, startedAt: 0))
    }
}

extension Simulation.Violation: @unchecked Sendable {}
