import ArgumentParser
import PaxosNode
import PaxosCommandLine

struct ResetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Delete a cluster's state (every role's database) to start from nothing.",
        discussion: """
            State carries over between runs: processes started again continue the same log, and the learn
            databases keep every earlier run's values. Reset deletes the processes' files in the state folder
            (databases, locks, status files) and nothing else; it refuses while any process of the cluster runs.
            """)

    @Argument(help: "The cluster configuration file.")
    var config: String

    @Option(help: "Folder of the state files (default: paxos-state/ beside the config file).")
    var state: String?

    func run() throws {
        try guarded {
            let folder = try state ?? NodeStartup.readConfig(config).stateFolder(configPath: config)
            let removed = try StateFolder.reset(folder)
            print(removed.isEmpty ? "nothing to delete in \(folder)" : "deleted \(removed.count) files in \(folder)")
        }
    }
}
