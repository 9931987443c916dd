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

/// The README's example of a stream of submissions, line for line between its markers.
func readmeStreamExample(_ client: Client, lines: [String]) async throws -> Int {
    // README stream example begins
    let decided = try await client.withSubmissions { submissions in
        for line in lines { try await submissions.submit(line) }   // at once, unless the stream is full
    } outcomes: { outcomes in
        var decided = 0
        for try await outcome in outcomes { _ = try outcome.get(); decided += 1 }   // in the order submitted
        return decided
    }
    // README stream example ends
    return decided
}

@Test func theReadmeExampleRuns() async throws {
    let test = try TestCluster()
    defer { test.remove() }
    #expect(try await readmeExample(test.configuration) == ["hello", "ordered", "world"])
}

@Test func theReadmeStreamExampleRuns() async throws {
    let lines = (1...100).map { "line \($0)" }
    try await withCluster(clientTimeout: .seconds(30)) { client, learner in
        #expect(try await readmeStreamExample(client, lines: lines) == 100)
        var learned: [String] = []
        for try await delivery in learner.deliveries(after: 0) {
            learned.append(String(decoding: delivery.value, as: UTF8.self))
            if learned.count == 100 { break }
        }
        // Each once (in the order sent unless a datagram was lost: then a resent value comes later).
        #expect(learned.sorted() == lines.sorted())
    }
}

@Test(arguments: ["README example", "README stream example"])
func theReadmeShowsTheExampleAsTheTestRunsIt(_ marker: String) throws {
    let here = URL(fileURLWithPath: #filePath)
    let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let source = try String(contentsOf: here, encoding: .utf8)
    let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
    let lines = source.components(separatedBy: "\n")
    let begin = try #require(lines.firstIndex { $0.contains("// \(marker) begins") })
    let end = try #require(lines.firstIndex { $0.contains("// \(marker) ends") })
    // Compared line by line without the indentation (the README indents a block inside a list item).
    func unindented(_ lines: some Sequence<String>) -> String {
        lines.map { String($0.drop { $0 == " " }) }.joined(separator: "\n")
    }
    let body = unindented(lines[(begin + 1)..<end])
    #expect(unindented(readme.components(separatedBy: "\n")).contains(body))
}
