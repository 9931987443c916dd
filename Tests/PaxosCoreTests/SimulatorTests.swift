import Foundation
import PaxosCore
@testable import PaxosTesting
import Testing

/// Random schedules of the whole cluster under loss, duplication, reordering, delay and crash-restart.
///
/// `PAXOS_SIM_SCHEDULES` sets how many (default 10,000), `PAXOS_SIM_BASE` the first seed. A failure
/// prints the one command that replays its seed with a full trace.
@Suite struct SimulatorTests {
    static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

    @Test func randomSchedules() async throws {
        let schedules = RandomSchedules(
            count: UInt64(Self.environment("PAXOS_SIM_SCHEDULES") ?? "") ?? 10_000,
            base: UInt64(Self.environment("PAXOS_SIM_BASE") ?? "") ?? 1,
            shards: 2)  // this machine's cores
        let started = ContinuousClock.now
        // Off the cooperative pool (run() blocks while its shards' threads work).
        let outcome = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: schedules.run()) }.start()
        }
        print("simulator: ran \(outcome.ran) of \(schedules.count) schedules from seed \(schedules.base) (\(outcome.messagesDelivered) messages delivered) in \(ContinuousClock.now - started)")
        for failure in outcome.failures { Issue.record(Comment(rawValue: failure.description)) }
        #expect(outcome.ran == schedules.count)
    }

    /// Replays one seed (`PAXOS_SIM_SEED`, else seed 1) and prints its trace if it fails.
    @Test func replay() throws {
        let seed = UInt64(Self.environment("PAXOS_SIM_SEED") ?? "") ?? 1
        var sim = Simulation(.random(seed: seed))
        sim.traceAll = Self.environment("PAXOS_SIM_SEED") != nil && Self.environment("PAXOS_SIM_QUIET") == nil
        sim.keepTrace = true
        print("replaying \(sim.config)")
        do {
            try sim.run()
            print("seed \(seed): all \(sim.totalSubmissions) submissions delivered by every learner at tick \(sim.now)")
        } catch {
            Issue.record("\(sim.config) failed: \(error)\nlast events:\n\(sim.trace.suffix(60).joined(separator: "\n"))")
        }
    }
}

/// The course's cases, as fixed scenarios.
@Suite struct ScenarioTests {
    @Test func oneOfThreeAcceptorsDecidesNothing() throws {
        var config = Simulation.Config(seed: 11)
        config.acceptorsRunning = 1
        config.faultyTicks = 600
        var sim = Simulation(config)
        while sim.now < 600 { try sim.step(faulty: false) }
        #expect(sim.chosen.isEmpty)
        #expect(sim.processes.filter { $0.role == .learner }.allSatisfy { $0.output.isEmpty })
        #expect(sim.clients.values.allSatisfy { !$0.isDone })
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func twoOfThreeAcceptorsDecideEverything(seed: UInt64) throws {
        var config = Simulation.Config(seed: seed)
        config.acceptorsRunning = 2
        config.valuesPerClient = 40
        config.faultyTicks = 0
        var sim = Simulation(config)
        try sim.run()
        #expect(sim.output(learner: 1).count == 80)
        #expect(sim.output(learner: 1) == sim.output(learner: 2))
    }

    @Test func lateLearnerPrintsTheWholeSequence() throws {
        var config = Simulation.Config(seed: 31)
        config.valuesPerClient = 60
        config.lateLearnerStart = 400  // long after every value was decided
        config.faultyTicks = 401
        var sim = Simulation(config)
        while sim.now < 400 { try sim.step(faulty: false) }
        #expect(sim.output(learner: 1).count == 120)
        #expect(sim.output(learner: 2).isEmpty)
        try sim.run()
        #expect(sim.output(learner: 2) == sim.output(learner: 1))
    }

    /// Catch-up answers are cut short in bytes (512 values of 1 MiB answered at once overflowed every answerer's
    /// send queue); a late learner asks for the rest as soon as it delivered what came, not at its next idle
    /// probe (`probeTicks`, 30 here: one answer of ~1 instance per probe would take over 1,000 ticks).
    @Test func lateLearnerAsksForTheRestOfAnswersCutShort() throws {
        var config = Simulation.Config(seed: 31)
        config.valuesPerClient = 60
        config.lateLearnerStart = 400
        config.faultyTicks = 401
        config.settings.catchUpBytes = 40  // one instance an answer, about
        var sim = Simulation(config)
        while sim.now < 400 { try sim.step(faulty: false) }
        #expect(sim.output(learner: 1).count == 120)
        while sim.now < 700 { try sim.step(faulty: false) }
        #expect(sim.output(learner: 2).count == 120)
        #expect(sim.output(learner: 2) == sim.output(learner: 1))
    }

    @Test func acceptorKilledAndRestartedMidRun() throws {
        var config = Simulation.Config(seed: 41)
        config.valuesPerClient = 60
        config.faultyTicks = 0
        var sim = Simulation(config)
        while sim.now < 20 { try sim.step(faulty: false) }
        sim.crash(.acceptor, 1)
        while sim.now < 40 { try sim.step(faulty: false) }
        sim.crash(.acceptor, 2)  // no quorum now: nothing may be decided
        let chosenBefore = sim.chosen.count
        while sim.now < 80 { try sim.step(faulty: false) }
        #expect(sim.chosen.count == chosenBefore)
        sim.restart(.acceptor, 1)
        try sim.run()
        #expect(sim.output(learner: 1).count == 120)
        #expect(sim.output(learner: 1) == sim.output(learner: 2))
    }

    @Test(arguments: [UInt64(61), 62, 63, 64])
    func leaderRestartedInPhaseTwoKeepsItsBallotsUnique(seed: UInt64) throws {
        var config = Simulation.Config(seed: seed)
        config.valuesPerClient = 40
        config.proposers = 1  // no standby: the restarted proposer must out-ballot its own past
        config.loss = 0.2
        config.faultyTicks = 0
        var sim = Simulation(config)
        for crashAt: UInt64 in [25, 60, 95] {
            while sim.now < crashAt { try sim.step(faulty: true) }
            sim.crash(.proposer, 1)
            try sim.step(faulty: true)
            sim.restart(.proposer, 1)
        }
        try sim.run()
        #expect(sim.output(learner: 1).count == 80)
        #expect(sim.process(.proposer, 1).disk.state.proposer.highestRound >= 4)
    }

    /// Values up to ten times a datagram: every message carrying one travels in fragments that the
    /// network loses, duplicates and reorders one by one, while an acceptor, a learner and the leader
    /// crash mid-run. Every value is delivered whole, once, in one order (the checks of every step).
    @Test(arguments: [UInt64(71), 72, 73])
    func valuesLongerThanADatagramSurviveLossAndCrashes(seed: UInt64) throws {
        var config = Simulation.Config(seed: seed)
        config.valuesPerClient = 10
        config.valueBytes = 2_000
        config.settings.maxDatagramBytes = 200
        config.loss = 0.05
        config.duplicate = 0.1
        config.maxDelay = 4
        config.faultyTicks = 0
        var sim = Simulation(config)
        for (at, role, id) in [(UInt64(30), Role.acceptor, UInt32(1)), (60, .learner, 2), (90, .proposer, 1)] {
            while sim.now < at { try sim.step(faulty: true) }
            sim.crash(role, id)
            while sim.now < at + 15 { try sim.step(faulty: true) }
            sim.restart(role, id)
        }
        try sim.run()
        #expect(sim.fragmentsSent > 1_000)
        let out = sim.output(learner: 1)
        #expect(out.count == 20)
        #expect(out == sim.output(learner: 2))
        #expect(out.allSatisfy { sim.submitted[$0.id] == $0.value })
        #expect(out.contains { $0.value.count > 1_000 })
    }

    @Test func leaderCrashIsTakenOverByTheStandby() throws {
        var config = Simulation.Config(seed: 51)
        config.valuesPerClient = 60
        config.faultyTicks = 0
        var sim = Simulation(config)
        while sim.now < 30 { try sim.step(faulty: false) }
        let leader = sim.processes.first { $0.proposer?.mode == .leader }?.id
        #expect(leader != nil)
        sim.crash(.proposer, leader!)
        // The crashed leader stays down: the standby must finish the job alone.
        while !sim.everythingDelivered && sim.now < 2_000 { try sim.step(faulty: false) }
        #expect(sim.output(learner: 1).count == 120)
        #expect(sim.output(learner: 1) == sim.output(learner: 2))
        let newLeader = sim.processes.first { $0.proposer?.mode == .leader }?.id
        #expect(newLeader != nil && newLeader != leader)
    }
}
