import Foundation
import Testing
@testable import PaxosNode

/// The repository ships `paxos.conf` for the README's "Running the roles"; it must stay valid.
@Test func theShippedExampleConfigParses() throws {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../paxos.conf").path
    let config = try NodeStartup.readConfig(path)
    #expect(config.endpoint(.acceptors).description == "239.0.0.1:7000")
    #expect(config.interface == "127.0.0.1")
    #expect(config.settings.acceptorCount == 3)
}
