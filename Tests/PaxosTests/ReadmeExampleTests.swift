import Foundation
import Paxos
import ServiceLifecycle
import Testing

/// The README's "Use it as a library" example, line for line between the markers (a test so it cannot rot).
func readmeExample(_ configuration: PaxosConfiguration) async throws -> [String] {
    var learned: [String] = []
    // README example begins
    let learner = Learner(id: 1, configuration: configuration)
    let client = Client(id: 1, configuration: configuration)
    let roles: [any Service] = (1...3).map { Acceptor(id: $0, configuration: configuration) }
        + [Proposer(id: 1, configuration: configuration), learner, client]
    let group = ServiceGroup(services: roles, logger: configuration.logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        for word in ["hello", "ordered", "world"] { try await client.submit(word) }
        for try await delivery in learner.deliveries(after: 0) {
            learned.append(String(decoding: delivery.value, as: UTF8.self))
            if delivery.position == 3 { break }
        }
        await group.triggerGracefulShutdown()
    }
    // README example ends
    return learned
}

@Test func theReadmeExampleRuns() async throws {
    let test = try TestCluster()
    defer { test.remove() }
    #expect(try await readmeExample(test.configuration) == ["hello", "ordered", "world"])
}

@Test func theReadmeShowsTheExampleAsTheTestRunsIt() throws {
    let here = URL(fileURLWithPath: #filePath)
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let source = try String(contentsOf: here, encoding: .utf8)
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let lines = source.components(separatedBy: "\n")
    let begin = try #require(lines.firstIndex { $0.contains("// README example begins") })
    let end = try #require(lines.firstIndex { $0.contains("// README example ends") })
    let body = lines[(begin + 1)..<end].map { String($0.dropFirst(4)) }.joined(separator: "\n")
    #expect(readme.contains(body))
}
