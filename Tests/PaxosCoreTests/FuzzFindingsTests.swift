import PaxosCore
import PaxosTesting
import Testing

/// The stalls of Fuzz/known-bugs/stalls.tsv, in the one cluster harness: each was fixed and stays as a
/// regression. (None is open: the last, a forged nack before the acceptors' first promise, was fixed by
/// 9d1c3bd. An open one would be a `withKnownIssue` here until fixed.)
@Suite struct FuzzFindingsTests {
    /// A new cluster as the real processes run it, one client with 30 values (``Simulation/Config/asProcessesRun(seed:values:)``).
    static func newCluster() -> Simulation {
        let config = Simulation.Config.asProcessesRun(seed: 3, values: 30)
        return Simulation(config)
    }

    /// A nack claiming acceptor 1 promised round `round` (of proposer 999), from an outsider.
    static func nack(round: UInt64, _ sim: Simulation) -> [UInt8] {
        let outsider = Sender(role: .client, id: 999, incarnation: 7, startedAt: 0)
        return Wire.encode(.nack(acceptor: 1, promised: Ballot(round: round, proposer: 999, incarnation: 0)),
                           header: Wire.Header(fingerprint: sim.config.settings.fingerprint, sender: outsider))
    }

    /// Each nack is sprayed at ticks 50, 100, ... 350, as `paxos-fuzz absurd` does: before the acceptors'
    /// first promise (their presence period ends at tick 100), then while values flow. Before 9f92810 a
    /// proposer believed each up to `maxRoundJump` rounds further and stepped down, until its rounds were
    /// implausible to every acceptor; before 9d1c3bd the acceptors' answer to those, a nack of the zero
    /// ballot (nothing promised yet), was dropped, so a new cluster never came back down.
    @Test(arguments: [(1 as UInt64) << 62, 2_000_005, 1_000_000])
    func forgedNacksDoNotStallTheCluster(round: UInt64) throws {
        var sim = Self.newCluster()
        let spray = Self.nack(round: round, sim)
        while sim.now < 3_000 && !sim.everythingDelivered {
            try sim.step(faulty: false)
            if sim.now % 50 == 0 && sim.now <= 350 { try sim.inject(spray) }
        }
        let delivered = sim.everythingDelivered
        #expect(delivered, "\(sim.progressSummary)")
        try sim.checkFinal()
    }
}
