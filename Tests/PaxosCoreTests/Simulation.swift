import PaxosCore

/// A deterministic, seeded simulation of a whole cluster: every message goes through the wire format,
/// the network loses, duplicates, delays and reorders datagrams, and any acceptor, proposer or learner
/// may crash and restart from exactly what it persisted. Safety is checked after every step.
struct Simulation {
    enum Node: Hashable, Comparable, CustomStringConvertible {
        case acceptor(UInt32), proposer(UInt32), learner(UInt32), client(UInt32)

        var description: String {
            switch self {
            case .acceptor(let i): "A\(i)"
            case .proposer(let i): "P\(i)"
            case .learner(let i): "L\(i)"
            case .client(let i): "C\(i)"
            }
        }

        var role: Role {
            switch self {
            case .acceptor: .acceptor
            case .proposer: .proposer
            case .learner: .learner
            case .client: .client
            }
        }
    }

    struct Config: CustomStringConvertible {
        var seed: UInt64
        var acceptorsRunning = 3
        var proposers = 2
        var learners = 2
        var clients = 2
        var valuesPerClient = 12
        var loss = 0.0
        var duplicate = 0.0
        var maxDelay: UInt64 = 3
        /// Per tick, the chance that one random acceptor, proposer or learner crashes.
        var crashRate = 0.0
        /// Per tick, the chance that one crashed node restarts (during the faulty phase).
        var restartRate = 0.1
        var faultyTicks: UInt64 = 200
        /// After the faulty phase: every node restarted, no more loss. All must be delivered within this.
        var healTicks: UInt64 = 3_000
        /// Learner 2 (if any) starts only at this tick.
        var lateLearnerStart: UInt64?
        var settings = Simulation.defaultSettings

        /// Draws a random schedule from a seed: a mix of fault rates and sizes.
        static func random(seed: UInt64) -> Config {
            var rng = SplitMix64(seed: seed)
            var c = Config(seed: seed)
            c.valuesPerClient = Int(rng.next() % 16) + 1
            c.loss = Double(rng.next() % 31) / 100  // 0–30 %
            c.duplicate = Double(rng.next() % 11) / 100
            c.maxDelay = rng.next() % 6
            c.crashRate = [0, 0.005, 0.02, 0.05][Int(rng.next() % 4)]
            c.proposers = Int(rng.next() % 3) + 1
            c.learners = Int(rng.next() % 2) + 1
            c.clients = Int(rng.next() % 2) + 1
            c.faultyTicks = 100 + rng.next() % 300
            if c.learners == 2 && rng.next() % 4 == 0 { c.lateLearnerStart = rng.next() % (c.faultyTicks + 200) }
            c.settings.window = Int(rng.next() % 8) + 1
            return c
        }

        var description: String {
            "seed=\(seed) acceptors=\(acceptorsRunning)/\(settings.acceptorCount) proposers=\(proposers) "
                + "learners=\(learners) clients=\(clients)x\(valuesPerClient) loss=\(loss) dup=\(duplicate) "
                + "delay≤\(maxDelay) crash=\(crashRate) faulty=\(faultyTicks) window=\(settings.window)"
                + (lateLearnerStart.map { " lateLearner@\($0)" } ?? "")
        }
    }

    /// Short timeouts and tiny datagrams, so retries, elections and chunking all happen in a few ticks.
    static var defaultSettings: ProtocolSettings {
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
        s.trimBatch = 3
        return s
    }

    struct Violation: Error, CustomStringConvertible {
        var tick: UInt64
        var what: String
        var description: String { "tick \(tick): \(what)" }
    }

    struct Envelope {
        var to: Node
        var bytes: [UInt8]
        var deliverAt: UInt64
        var from: Node
    }

    // Role states; nil while crashed (durable state survives in the maps below).
    var acceptors: [UInt32: Paxos.Acceptor?] = [:]
    var proposers: [UInt32: Paxos.Proposer?] = [:]
    var learners: [UInt32: Paxos.Learner?] = [:]
    var clients: [UInt32: Paxos.Client] = [:]

    // Durable state, exactly what the shells would have written.
    var acceptorDisk: [UInt32: AcceptorDurableState] = [:]
    var proposerDisk: [UInt32: ProposerDurableState] = [:]
    var learnerDisk: [UInt32: LearnerDurableState] = [:]
    /// Each learner's output since the beginning, across restarts (its learned table).
    var learnerOutput: [UInt32: [Submission]] = [:]
    var learnerDeliveredIDs: [UInt32: Set<SubmissionID>] = [:]

    // The omniscient view: every 2B ever sent, and what a quorum accepted.
    var votes: [Instance: [Ballot: (acceptors: Set<UInt32>, proposal: Proposal)]] = [:]
    var chosen: [Instance: Proposal] = [:]
    /// The one sequence every learner's output must be a prefix of.
    var reference: [SubmissionID] = []
    var submitted: [SubmissionID: [UInt8]] = [:]

    let config: Config
    var rng: SplitMix64
    var now: UInt64 = 0
    var network: [Envelope] = []
    var trace: [String] = []
    var traceAll = false
    var clientStart: [UInt32: UInt64] = [:]
    var clientValues: [UInt32: [[UInt8]]] = [:]
    var messagesDelivered = 0

    init(_ config: Config) {
        var config = config
        config.settings.learnerCount = config.learners
        self.config = config
        rng = SplitMix64(seed: config.seed ^ 0x5EED_5EED)
        for a in 1...UInt32(config.acceptorsRunning) {
            acceptorDisk[a] = .init()
            acceptors[a] = Paxos.Acceptor(id: a, settings: config.settings)
        }
        for p in 1...UInt32(config.proposers) {
            proposerDisk[p] = .init()
            proposers[p] = Paxos.Proposer(id: p, settings: config.settings, seed: rng.next())
        }
        for l in 1...UInt32(config.learners) {
            learnerDisk[l] = .init()
            learnerOutput[l] = []
            learnerDeliveredIDs[l] = []
            if l == 2, config.lateLearnerStart != nil { learners[l] = .some(nil) } else {
                learners[l] = Paxos.Learner(id: l, settings: config.settings)
            }
        }
        for c in 1...UInt32(config.clients) {
            clients[c] = Paxos.Client(id: c, incarnation: rng.next(), settings: config.settings)
            clientStart[c] = rng.next() % 40
            // Small values that repeat, like the course's random 0..32767 inputs but far denser.
            clientValues[c] = (0..<config.valuesPerClient).map { _ in Array(String(rng.next() % 7).utf8) }
        }
    }

    // MARK: running

    var totalSubmissions: Int { config.clients * config.valuesPerClient }

    var everythingDelivered: Bool {
        clients.values.allSatisfy(\.isDone)
            && learnerOutput.values.allSatisfy { $0.count == totalSubmissions }
            && learners.values.allSatisfy { $0 != nil }
    }

    /// Runs the faulty phase, then heals and runs until everything is delivered. Throws the first
    /// violation of agreement, total order, validity, exactly-once, or liveness after healing.
    mutating func run() throws(Violation) {
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

    var progressSummary: String {
        let c = clients.sorted { $0.key < $1.key }.map { "C\($0.key) undecided=\($0.value.undecided)" }
        let l = learnerOutput.sorted { $0.key < $1.key }.map { "L\($0.key) delivered=\($0.value.count)/\(totalSubmissions)" }
        let p = proposers.sorted { $0.key < $1.key }.map { k, v in
            v.map { "P\(k) \($0.mode) ballot=\($0.ballot) next=\($0.firstUndecided) backlog=\($0.backlog)" } ?? "P\(k) down"
        }
        return (c + l + p).joined(separator: ", ")
    }

    mutating func heal() {
        for (a, state) in acceptors where state == nil { restart(.acceptor(a)) }
        for (p, state) in proposers where state == nil { restart(.proposer(p)) }
        for (l, state) in learners where state == nil { restart(.learner(l)) }
    }

    mutating func step(faulty: Bool) throws(Violation) {
        // Clients start reading their input.
        for (c, start) in clientStart where start == now {
            var client = clients[c]!
            let effects = client.submit(clientValues[c]!)
            client.closeInput()
            clients[c] = client
            for (k, v) in clientValues[c]!.enumerated() {
                submitted[SubmissionID(client: c, incarnation: client.incarnation, sequence: UInt64(k + 1))] = v
            }
            send(effects.send, from: .client(c), faulty: faulty)
        }
        if let late = config.lateLearnerStart, late == now, learners[2] == .some(nil) { restart(.learner(2)) }

        // Deliver every datagram due now, in random order.
        var due: [Envelope] = []
        var later: [Envelope] = []
        for e in network { if e.deliverAt <= now { due.append(e) } else { later.append(e) } }
        network = later
        due.shuffle(using: &rng)
        for e in due {
            try deliver(e, faulty: faulty)
        }

        // Tick every live node.
        // Acceptors have no timers.
        for p in proposers.keys.sorted() {
            guard var proposer = proposers[p]! else { continue }
            let effects = proposer.tick(now: now)
            proposers[p] = proposer
            try applyProposer(p, effects, faulty: faulty)
        }
        for l in learners.keys.sorted() {
            guard var learner = learners[l]! else { continue }
            let effects = learner.tick(now: now)
            learners[l] = learner
            try applyLearner(l, effects, faulty: faulty)
        }
        for c in clients.keys.sorted() where clientStart[c]! <= now {
            var client = clients[c]!
            let effects = client.tick(now: now)
            clients[c] = client
            send(effects.send, from: .client(c), faulty: faulty)
        }

        if faulty { crashAndRestart() }
        now += 1
    }

    mutating func deliver(_ e: Envelope, faulty: Bool) throws(Violation) {
        guard case .success(let message) = Wire.decode(e.bytes) else {
            throw Violation(tick: now, what: "a datagram from \(e.from) failed to decode")
        }
        messagesDelivered += 1
        if traceAll { print("t\(now) \(e.from)→\(e.to) \(short(message))") }
        record("t\(now) \(e.from)→\(e.to) \(short(message))")
        switch e.to {
        case .acceptor(let a):
            guard var acceptor = acceptors[a]! else { return }
            let effects = acceptor.on(message)
            acceptors[a] = acceptor
            try applyAcceptor(a, effects, faulty: faulty)
        case .proposer(let p):
            guard var proposer = proposers[p]! else { return }
            let effects = proposer.on(message)
            proposers[p] = proposer
            try applyProposer(p, effects, faulty: faulty)
        case .learner(let l):
            guard var learner = learners[l]! else { return }
            let effects = learner.on(message)
            learners[l] = learner
            try applyLearner(l, effects, faulty: faulty)
        case .client(let c):
            var client = clients[c]!
            let effects = client.on(message)
            clients[c] = client
            send(effects.send, from: .client(c), faulty: faulty)
        }
    }

    // MARK: effects (persist first, then send — the shells' contract)

    mutating func applyAcceptor(_ a: UInt32, _ effects: Paxos.AcceptorEffects, faulty: Bool) throws(Violation) {
        var disk = acceptorDisk[a]!
        let promisedBefore = disk.promised
        if let p = effects.persist.promised {
            guard p >= disk.promised else { throw Violation(tick: now, what: "A\(a) lowered its promise") }
            disk.promised = p
        }
        for entry in effects.persist.accepted {
            if let k = disk.accepted.firstIndex(where: { $0.instance == entry.instance }) {
                disk.accepted[k] = entry
            } else {
                disk.accepted.append(entry)
            }
        }
        if let through = effects.persist.trimThrough {
            // Only what every learner durably delivered may be forgotten.
            for (l, learned) in learnerDisk where learned.nextInstance <= through {
                throw Violation(tick: now, what: "A\(a) trimmed through \(through) but L\(l) delivered only up to \(learned.nextInstance - 1)")
            }
            disk.accepted.removeAll { $0.instance <= through }
            disk.trimmedThrough = max(disk.trimmedThrough, through)
        }
        acceptorDisk[a] = disk
        for out in effects.send {
            switch out.message {
            case .accepted(let acceptor, let ballot, let proposals):
                guard ballot >= promisedBefore else {
                    throw Violation(tick: now, what: "A\(a) accepted ballot \(ballot) below its promise \(promisedBefore)")
                }
                for p in proposals {
                    try observeVote(acceptor: acceptor, ballot: ballot, instance: p.instance, proposal: p.proposal)
                }
                // A 2B must only announce what is on disk.
                for p in proposals where !disk.accepted.contains(AcceptedEntry(instance: p.instance, ballot: ballot, proposal: p.proposal)) {
                    throw Violation(tick: now, what: "A\(a) sent a 2B for instance \(p.instance) it has not persisted")
                }
            case .promise(let promise):
                if promise.ballot > disk.promised {
                    throw Violation(tick: now, what: "A\(a) promised \(promise.ballot) before persisting it")
                }
            default: break
            }
        }
        send(effects.send, from: .acceptor(a), faulty: faulty)
    }

    mutating func applyProposer(_ p: UInt32, _ effects: Paxos.ProposerEffects, faulty: Bool) throws(Violation) {
        if let state = effects.persist {
            // Each election uses a round never used before, restarts included.
            guard state.highestRound > proposerDisk[p]!.highestRound else {
                throw Violation(tick: now, what: "P\(p) reused round \(state.highestRound) (disk had \(proposerDisk[p]!.highestRound))")
            }
            proposerDisk[p] = state
        }
        send(effects.send, from: .proposer(p), faulty: faulty)
    }

    mutating func applyLearner(_ l: UInt32, _ effects: Paxos.LearnerEffects, faulty: Bool) throws(Violation) {
        var disk = learnerDisk[l]!
        for delivered in effects.persist {
            guard delivered.instance == disk.nextInstance else {
                throw Violation(tick: now, what: "L\(l) delivered instance \(delivered.instance), expected \(disk.nextInstance)")
            }
            guard let decided = chosen[delivered.instance] else {
                throw Violation(tick: now, what: "L\(l) delivered instance \(delivered.instance), which no quorum accepted")
            }
            for d in delivered.deliveries {
                let s = d.submission
                guard decided.submissions.contains(s) else {
                    throw Violation(tick: now, what: "L\(l) delivered \(s.id) in instance \(delivered.instance), not what was chosen there")
                }
                guard d.position == disk.nextPosition else {
                    throw Violation(tick: now, what: "L\(l) gave position \(d.position), expected \(disk.nextPosition)")
                }
                guard let value = submitted[s.id], value == s.value else {
                    throw Violation(tick: now, what: "validity: L\(l) delivered \(s.id) which no client submitted with that value")
                }
                guard learnerDeliveredIDs[l]!.insert(s.id).inserted else {
                    throw Violation(tick: now, what: "exactly-once: L\(l) delivered \(s.id) twice")
                }
                let k = Int(d.position - 1)
                if k < reference.count {
                    guard reference[k] == s.id else {
                        throw Violation(tick: now, what: "total order: L\(l) delivered \(s.id) at position \(d.position), another learner delivered \(reference[k])")
                    }
                } else {
                    reference.append(s.id)
                }
                learnerOutput[l]!.append(s)
                disk.delivered.append(s.id)
                disk.nextPosition += 1
            }
            // Every submission chosen in this instance is now delivered (here or earlier).
            for s in decided.submissions where !learnerDeliveredIDs[l]!.contains(s.id) {
                throw Violation(tick: now, what: "L\(l) skipped \(s.id) chosen in instance \(delivered.instance)")
            }
            disk.nextInstance += 1
        }
        learnerDisk[l] = disk
        send(effects.send, from: .learner(l), faulty: faulty)
    }

    /// The omniscient tally: a quorum of distinct acceptors accepting one ballot's value chooses it, and
    /// two different values must never be chosen for one instance.
    mutating func observeVote(acceptor: UInt32, ballot: Ballot, instance: Instance, proposal: Proposal) throws(Violation) {
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

    mutating func send(_ outgoing: [Outgoing], from: Node, faulty: Bool) {
        for out in outgoing {
            let bytes = Wire.encode(out.message)
            for to in receivers(of: out.group) {
                if faulty && Double(rng.next() % 10_000) / 10_000 < config.loss { continue }
                network.append(Envelope(to: to, bytes: bytes, deliverAt: now + 1 + rng.next() % (config.maxDelay + 1), from: from))
                if faulty && Double(rng.next() % 10_000) / 10_000 < config.duplicate {
                    network.append(Envelope(to: to, bytes: bytes, deliverAt: now + 1 + rng.next() % (config.maxDelay + 3), from: from))
                }
            }
        }
    }

    func receivers(of group: Group) -> [Node] {
        var nodes: [Node] = []
        for a in acceptors.keys.sorted() where Role.acceptor.listensTo.contains(group) { nodes.append(.acceptor(a)) }
        for p in proposers.keys.sorted() where Role.proposer.listensTo.contains(group) { nodes.append(.proposer(p)) }
        for l in learners.keys.sorted() where Role.learner.listensTo.contains(group) { nodes.append(.learner(l)) }
        for c in clients.keys.sorted() where Role.client.listensTo.contains(group) { nodes.append(.client(c)) }
        return nodes
    }

    // MARK: crashes

    mutating func crashAndRestart() {
        if config.crashRate > 0 && Double(rng.next() % 10_000) / 10_000 < config.crashRate {
            let candidates = allNodes.filter { isAlive($0) }
            if !candidates.isEmpty { crash(candidates[Int(rng.next() % UInt64(candidates.count))]) }
        }
        let down = allNodes.filter { !isAlive($0) && !isLateLearnerWaiting($0) }
        if !down.isEmpty && Double(rng.next() % 10_000) / 10_000 < config.restartRate {
            restart(down[Int(rng.next() % UInt64(down.count))])
        }
    }

    var allNodes: [Node] {
        acceptors.keys.sorted().map { .acceptor($0) } + proposers.keys.sorted().map { .proposer($0) }
            + learners.keys.sorted().map { .learner($0) }
    }

    func isLateLearnerWaiting(_ node: Node) -> Bool {
        if case .learner(2) = node, let late = config.lateLearnerStart, now <= late { return true }
        return false
    }

    func isAlive(_ node: Node) -> Bool {
        switch node {
        case .acceptor(let a): acceptors[a]! != nil
        case .proposer(let p): proposers[p]! != nil
        case .learner(let l): learners[l]! != nil
        case .client: true
        }
    }

    mutating func crash(_ node: Node) {
        record("t\(now) CRASH \(node)")
        switch node {
        case .acceptor(let a): acceptors[a] = .some(nil)
        case .proposer(let p): proposers[p] = .some(nil)
        case .learner(let l): learners[l] = .some(nil)
        case .client: break
        }
    }

    /// Rebuilds a role from its durable state alone.
    mutating func restart(_ node: Node) {
        record("t\(now) RESTART \(node)")
        switch node {
        case .acceptor(let a):
            acceptors[a] = Paxos.Acceptor(id: a, settings: config.settings, restoring: acceptorDisk[a]!)
        case .proposer(let p):
            proposers[p] = Paxos.Proposer(id: p, settings: config.settings, restoring: proposerDisk[p]!,
                                          seed: rng.next(), now: now)
        case .learner(let l):
            learners[l] = Paxos.Learner(id: l, settings: config.settings, restoring: learnerDisk[l]!, now: now)
        case .client: break
        }
    }

    // MARK: checks and tracing

    func checkFinal() throws(Violation) {
        let all = Set(submitted.keys)
        for (l, ids) in learnerDeliveredIDs where ids != all {
            throw Violation(tick: now, what: "L\(l) delivered \(ids.count) distinct submissions, \(all.count) were submitted")
        }
    }

    mutating func record(_ line: String) {
        if trace.count >= 400 { trace.removeFirst(200) }
        trace.append(line)
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
        case .chosen(let ids): "chosen \(ids.map { "\($0.client)#\($0.sequence)" })"
        case .prepare(let b, let from): "prepare \(b) from \(from)"
        case .promise(let p): "promise A\(p.acceptor) \(p.ballot) from \(p.from) chunk \(p.chunk)/\(p.chunkCount) \(p.accepted.map { "\($0.instance)@\($0.ballot)=\(short($0.proposal))" })"
        case .nack(let a, let b): "nack A\(a) promised \(b)"
        case .accept(let b, let ps): "2A \(b) \(ps.map { "\($0.instance)=\(short($0.proposal))" })"
        case .accepted(let a, let b, let ps): "2B A\(a) \(b) \(ps.map { "\($0.instance)=\(short($0.proposal))" })"
        case .replay(let a, let es): "replay A\(a) \(es.map { "\($0.instance)@\($0.ballot)" })"
        case .heartbeat(let b, let f): "heartbeat \(b) first \(f)"
        case .catchUp(let l, let f, let t): "catchUp L\(l) \(f)..<\(t)"
        case .decided(let ps): "decided \(ps.map(\.instance))"
        case .recover(let l, let f): "recover L\(l) from \(f)"
        case .progress(let l, let d): "progress L\(l) delivered \(d)"
        case .trimmed(let a, let t): "trimmed A\(a) through \(t)"
        }
    }
}
