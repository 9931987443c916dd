import Foundation
import Logging
import Paxos
import Testing

/// The "done when": an application in a separate package, depending on the library by path, starts
/// an acceptor (three), a proposer and a learner in-process, submits 10,000 values from 8 concurrent tasks and
/// receives them all in one order.
@Test func tenThousandValuesFromEightTasksThroughTheLibraryByPath() async throws {
    var cluster = try ClusterConfig.privateLoopback()
    cluster.settings.learnerCount = 1
    cluster.tickMilliseconds = 5
    let directory = NSTemporaryDirectory() + "library-by-path-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var logger = Logger(label: "library-by-path")
    logger.logLevel = .warning
    let configuration = PaxosConfiguration(cluster: cluster, stateDirectory: directory, logger: logger)
    let learner = Learner(id: 1, configuration: configuration)
    let client = Client(id: 1, configuration: configuration, defaultTimeout: .seconds(120))
    let tasks = 8, perTask = 1_250
    try await withThrowingTaskGroup(of: Void.self) { roles in
        for id in 1...3 { roles.addTask { try await Acceptor(id: UInt32(id), configuration: configuration).run() } }
        roles.addTask { try await Proposer(id: 1, configuration: configuration).run() }
        roles.addTask { try await learner.run() }
        roles.addTask { try await client.run() }
        async let received: [Delivery] = {
            var out: [Delivery] = []
            for try await delivery in learner.deliveries(after: 0) {
                out.append(delivery)
                if out.count == tasks * perTask { break }
            }
            return out
        }()
        try await withThrowingTaskGroup(of: Void.self) { submitters in
            for t in 0..<tasks {
                submitters.addTask { for v in 0..<perTask { try await client.submit("task \(t) value \(v)") } }
            }
            try await submitters.waitForAll()
        }
        let deliveries = try await received
        roles.cancelAll()
        #expect(deliveries.map(\.position) == Array(1...UInt64(tasks * perTask)))
        let values = deliveries.map { String(decoding: $0.value, as: UTF8.self) }
        #expect(Set(values) == Set((0..<tasks).flatMap { t in (0..<perTask).map { "task \(t) value \($0)" } }))
        // Each task's values in the order it submitted them (each waited for the previous one's decision).
        for t in 0..<tasks {
            let mine = values.filter { $0.hasPrefix("task \(t) ") }
            #expect(mine == (0..<perTask).map { "task \(t) value \($0)" })
        }
    }
}
