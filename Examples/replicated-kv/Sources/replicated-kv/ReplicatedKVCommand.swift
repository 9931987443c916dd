import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Paxos
import ReplicatedKV
import ServiceLifecycle

/// `replicated-kv <id> <config> --http-port PORT`: one replica and its HTTP front end, until SIGTERM or SIGINT.
@main
struct ReplicatedKVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "replicated-kv",
                                                    abstract: "A replica of the replicated key-value store.")
    @Argument(help: "The replica's id: its acceptor, proposer, learner and client ids.") var id: UInt32
    @Argument(help: "The cluster's config file (acceptor-count: the number of replicas).") var config: String
    @Option(help: "The HTTP port on 127.0.0.1.") var httpPort: Int = 8080
    @Option(help: "Folder of the state (default: the config's state folder).") var state: String?

    func run() async throws {
        var logger = Logger(label: "replicated-kv.\(id)")
        logger.logLevel = .notice
        let configuration = try PaxosConfiguration(contentsOf: config, stateDirectory: state, logger: logger)
        let replica = try Replica(id: id, configuration: configuration)
        let app = Application(router: makeRouter(replica),
                              configuration: .init(address: .hostname("127.0.0.1", port: httpPort)), logger: logger)
        let group = ServiceGroup(services: [replica, app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
