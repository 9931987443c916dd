import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Hummingbird
import Logging
import Paxos
import ReplicatedKV
import Testing

/// Three replicas in this process on a private loopback group; their state in a temporary folder.
final class ThreeReplicas: @unchecked Sendable {
    let configuration: PaxosConfiguration
    let directory: String
    private(set) var replicas: [Replica] = []
    private var tasks: [Task<Void, any Error>] = []

    init() throws {
        var cluster = try ClusterConfig.privateLoopback()
        cluster.settings.acceptorCount = 3
        cluster.settings.learnerCount = 3
        cluster.tickMilliseconds = 5
        cluster.maxValueBytes = 16_000
        directory = NSTemporaryDirectory() + "replicated-kv-\(UUID().uuidString)"
        var logger = Logger(label: "replicated-kv-test")
        logger.logLevel = .warning
        configuration = PaxosConfiguration(cluster: cluster, stateDirectory: directory, logger: logger)
        for id in 1...3 {
            replicas.append(try Replica(id: UInt32(id), configuration: configuration))
            tasks.append(Task { [replicas] in try await replicas[id - 1].run() })
        }
    }

    /// Stops replica `id` as SIGTERM would and waits until it stopped.
    func stop(_ id: Int) async throws {
        tasks[id - 1].cancel()
        try await tasks[id - 1].value
    }

    /// Starts replica `id` again from its state.
    func restart(_ id: Int) throws {
        replicas[id - 1] = try Replica(id: UInt32(id), configuration: configuration)
        let replica = replicas[id - 1]
        tasks[id - 1] = Task { try await replica.run() }
    }

    func shutdown() async {
        for t in tasks { t.cancel() }
        for t in tasks { _ = try? await t.value }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

@Suite(.serialized) struct ReplicatedKVTests {
    @Test func everyReplicaAgreesAfterConcurrentWritesAndARestart() async throws {
        let cluster = try ThreeReplicas()
        do {
            // 500 writes through all three replicas at once, 100 keys, each written several times.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<500 {
                    let replica = cluster.replicas[i % 3]
                    group.addTask { try await replica.put("k\(i % 100)", "a\(i)") }
                }
                try await group.waitForAll()
            }
            // 300 more through replicas 1 and 2 (deletes among them) while replica 3 stops...
            let one = cluster.replicas[0], two = cluster.replicas[1]
            async let during: Void = withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<300 {
                    let replica = i % 2 == 0 ? one : two
                    if i % 30 == 0 {
                        group.addTask { try await replica.delete("k\(i % 100)") }
                    } else {
                        group.addTask { try await replica.put("k\(i % 100)", "b\(i)") }
                    }
                }
                try await group.waitForAll()
            }
            try await cluster.stop(3)
            try await during
            // ...which restarts, catches up, and takes 200 more writes with the others.
            try cluster.restart(3)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<200 {
                    let replica = cluster.replicas[i % 3]
                    group.addTask { try await replica.put("k\((i * 7) % 100)", "c\(i)") }
                }
                try await group.waitForAll()
            }
            // A linearizable read on each replica: every write above is applied there before it answers.
            var tables: [[String: String]] = []
            for replica in cluster.replicas {
                _ = try await replica.get("k0", linearizable: true)
                tables.append(try replica.table.all())
            }
            #expect(tables[0].count >= 90)
            #expect(tables[0] == tables[1])
            #expect(tables[0] == tables[2])
            for key in (0..<100).map({ "k\($0)" }) {
                let values = try await [cluster.replicas[0].get(key), cluster.replicas[1].get(key), cluster.replicas[2].get(key)]
                #expect(values[0] == values[1] && values[1] == values[2], "\(key): \(values)")
            }
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    @Test func httpFrontEnd() async throws {
        let cluster = try ThreeReplicas()
        var quiet = Logger(label: "replicated-kv-http")
        quiet.logLevel = .critical
        let app = Application(router: makeRouter(cluster.replicas[0]),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in PortBox.shared.set(channel.localAddress?.port) }, logger: quiet)
        let server = Task { try await app.runService() }
        defer { server.cancel() }
        var port: Int?
        for _ in 0..<500 where port == nil {
            port = PortBox.shared.get()
            if port == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let base = "http://127.0.0.1:\(try #require(port))"
        func call(_ method: String, _ path: String, _ body: String? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            request.httpBody = body.map { Data($0.utf8) }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
        #expect(try await call("PUT", "/kv/colour", "blue").0 == 204)
        #expect(try await call("GET", "/kv/colour") == (200, "blue"))
        #expect(try await call("GET", "/kv/colour?linearizable=true") == (200, "blue"))
        #expect(try await cluster.replicas[1].get("colour", linearizable: true) == "blue")
        #expect(try await call("DELETE", "/kv/colour").0 == 204)
        #expect(try await call("GET", "/kv/colour").0 == 404)
        #expect(try await call("PUT", "/kv/big", String(repeating: "x", count: 20_000)).0 == 413)
        let health = try await call("GET", "/health")
        #expect(health.0 == 200 && health.1.hasPrefix("replica 1 ok"))
        server.cancel()
        await cluster.shutdown()
    }
}

/// The port the test server bound (port 0: the kernel picks a free one).
final class PortBox: Sendable {
    static let shared = PortBox()
    private let port = Mutex<Int?>(nil)
    func set(_ p: Int?) { port.withLock { $0 = p } }
    func get() -> Int? { port.withLock { $0 } }
}
import Synchronization
