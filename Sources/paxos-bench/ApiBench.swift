import ArgumentParser
import Foundation
import Logging
import Paxos
import Synchronization

/// `paxos-bench api <id> <config> -n N --tasks T [--batch B | --writer]`: the same work as a `paxos client` fed N
/// lines and a `paxos learner` printing them, through the library in this one process: a `Learner` and a `Client`,
/// N values submitted from T concurrent tasks, each waiting for B values at a time (`submit(contentsOf:)`;
/// `submit(_:)` when B is 1), or with `--writer` handed over one at a time into one `withSubmissions` stream
/// from T tasks while this task reads their outcomes (each must be decided); prints the time from the first
/// submission until the learner delivered the N-th value (scripts/bench-api.sh compares it with the process path).
struct ApiBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Throughput through the Paxos library: an in-process learner and client.")
    @Argument(help: "The learner's and the client's id.") var id: UInt32
    @Argument(help: "The cluster configuration file.") var config: String
    @Option(name: .short, help: "Values to submit.") var n = 100_000
    @Option(help: "Concurrent submitting tasks.") var tasks = 8
    @Option(help: "Values per submission: each task waits for this many at a time (1: submit(_:) per value).")
    var batch = 1
    @Flag(help: "Hand values over one at a time through Client.withSubmissions (from --tasks tasks) and read their outcomes.")
    var writer = false
    @Option(help: "Folder of the learner's state (default: the config's).") var state: String?

    func run() throws {
        let outcome = Mutex<Result<String, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let (id, config, n, tasks, batch, state) = (id, config, n, tasks, writer ? 0 : max(batch, 1), state)
        Task.detached {
            let result: Result<String, any Error>
            do {
                result = .success(try await Self.measure(id: id, config: config, n: n, tasks: tasks, batch: batch, state: state))
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        print(try outcome.withLock { $0! }.get())
    }

    /// `batch` 0: through a `withSubmissions` stream.
    static func measure(id: UInt32, config: String, n: Int, tasks: Int, batch: Int, state: String?) async throws -> String {
        var logger = Logger(label: "paxos-bench.api")
        logger.logLevel = .warning
        let configuration = try PaxosConfiguration(contentsOf: config, stateDirectory: state, logger: logger)
        let learner = Learner(id: id, configuration: configuration)
        let client = Client(id: id, configuration: configuration, defaultTimeout: .seconds(600))
        return try await withThrowingTaskGroup(of: Void.self) { roles in
            roles.addTask { try await learner.run() }
            roles.addTask { try await client.run() }
            // The learner's own history first (its position when it starts), then the clock.
            while learner.deliveredThrough == 0 && !FileManager.default.fileExists(atPath: "\(configuration.stateDirectory)/learner-\(id).status") {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(200))
            let start = learner.deliveredThrough
            let began = ContinuousClock.now
            async let delivered: Void = {
                var count = 0
                for try await _ in learner.deliveries(after: start) {
                    count += 1
                    if count == n { return }
                }
            }()
            if batch == 0 {
                let decided = try await client.withSubmissions { submissions in
                    // Each value made when it is handed over, as in the other modes.
                    if tasks == 1 {
                        for i in 0..<n { try await submissions.submit(Array(String(i + 1).utf8)) }
                    } else {
                        try await withThrowingTaskGroup(of: Void.self) { writers in
                            for t in 0..<tasks {
                                writers.addTask {
                                    for i in stride(from: t, to: n, by: tasks) { try await submissions.submit(Array(String(i + 1).utf8)) }
                                }
                            }
                            try await writers.waitForAll()
                        }
                    }
                } outcomes: { outcomes in
                    var decided = 0
                    for try await outcome in outcomes {
                        _ = try outcome.get()
                        decided += 1
                    }
                    return decided
                }
                guard decided == n else { throw PaxosError.invalidConfiguration("\(decided) outcomes for \(n) values") }
            } else { try await withThrowingTaskGroup(of: Void.self) { submitters in
                for t in 0..<tasks {
                    submitters.addTask {
                        // Each value made when it is submitted and handed over (as an application handles a
                        // request): the task keeps no copy of it.
                        let mine = stride(from: t, to: n, by: tasks)
                        if batch == 1 {
                            for i in mine { try await client.submit(Array(String(i + 1).utf8)) }
                        } else {
                            var values: [[UInt8]] = []
                            for i in mine {
                                values.append(Array(String(i + 1).utf8))
                                if values.count == batch {
                                    try await client.submit(contentsOf: values)
                                    values = []
                                }
                            }
                            if !values.isEmpty { try await client.submit(contentsOf: values) }
                        }
                    }
                }
                try await submitters.waitForAll()
            } }
            try await delivered
            let elapsed = ContinuousClock.now - began
            roles.cancelAll()
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let how = batch == 0 ? "one at a time into a withSubmissions stream" : "\(batch) per submission"
            return "api: \(n) values from \(tasks) tasks, \(how), " + String(format: "in %.2f s: %.0f values/s", seconds, Double(n) / seconds)
        }
    }
}
