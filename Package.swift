// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "paxos",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "paxos", targets: ["paxos"]),
        .executable(name: "paxos-bench", targets: ["paxos-bench"]),
        .library(name: "PaxosCore", targets: ["PaxosCore"]),
        // The broadcast as a library: every role in-process, a client's submit, a learner's deliveries.
        .library(name: "Paxos", targets: ["Paxos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The protocol's vocabulary (ballots, instances, messages) and its one binary encoding.
        .target(name: "PaxosWire"),
        // The protocol: pure value types, no I/O, no clocks, no randomness of its own.
        .target(name: "PaxosCore", dependencies: [
            "PaxosWire",
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        // libsqlite3 as a Swift module (apt-get install libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // Durable state of acceptors, learners and proposers in SQLite; schema in migrations/.
        .target(name: "PaxosStore", dependencies: ["PaxosCore", "CSQLite"]),
        // IP multicast datagrams over SwiftNIO.
        .target(name: "PaxosTransport", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // Thin shells: feed datagrams and ticks to a role, persist its writes, then send and print.
        .target(name: "PaxosNode", dependencies: [
            "PaxosCore", "PaxosStore", "PaxosTransport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The library applications embed: each role a swift-service-lifecycle Service, a client whose
        // submit returns once decided, a learner's deliveries as an AsyncSequence resumable from a cursor.
        .target(name: "Paxos", dependencies: [
            "PaxosCore", "PaxosNode", "PaxosStore", "PaxosTransport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // What both executables' command lines share: role arguments, one-line errors, standard input and output.
        .target(name: "PaxosCommandLine", dependencies: [
            "PaxosCore", "PaxosNode", "PaxosStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The one executable of the protocol: a subcommand per role.
        .executableTarget(name: "paxos", dependencies: [
            "PaxosCore", "PaxosStore", "PaxosNode", "PaxosCheck", "PaxosCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The benchmark: paced clients and learners with latency logs, reports, machine limits, and the runs
        // themselves (scripts/bench.sh only makes the network namespace).
        .executableTarget(name: "paxos-bench", dependencies: [
            "PaxosCore", "PaxosStore", "PaxosNode", "PaxosCommandLine", "CSQLite", "Paxos",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // The checkers (agreement, exactly once, validity, completeness) the simulator runs after every
        // step and `paxos check` runs on real outputs and learn databases.
        .target(name: "PaxosCheck", dependencies: ["PaxosStore"]),
        // What tests and fuzzers share: the one cluster harness (a seeded simulator driving the shells' own
        // nodes over in-memory disks), a live in-process cluster over loopback multicast, the hostile
        // message catalogue.
        .target(name: "PaxosTesting", dependencies: [
            "PaxosCore", "PaxosNode", "PaxosStore", "PaxosCheck",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // The fuzzers on that harness: a seeded structure-aware generator, replay, the seed corpus and the
        // absurd-message verdicts; built with -DPAXOS_LIBFUZZER and -sanitize=fuzzer, the libFuzzer harness
        // (scripts/fuzz.sh).
        .executableTarget(name: "paxos-fuzz", dependencies: ["PaxosCore", "PaxosTesting"], path: "Fuzz",
                          exclude: ["README.md", "corpus", "known-bugs", "paxos.dict"],
                          // A single-threaded tool over C stdio and signal handlers.
                          swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(name: "PaxosCoreTests", dependencies: ["PaxosCore", "PaxosNode", "PaxosTesting"]),
        .testTarget(name: "PaxosTests", dependencies: [
            "Paxos",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .testTarget(name: "PaxosCommandLineTests", dependencies: ["PaxosCommandLine"]),
        .testTarget(name: "PaxosCheckTests", dependencies: ["PaxosCheck", "PaxosCore", "PaxosStore"]),
        .testTarget(name: "PaxosTestingTests", dependencies: ["PaxosTesting", "PaxosCore", "PaxosNode", "PaxosStore"]),
        .testTarget(name: "PaxosBenchTests", dependencies: ["paxos-bench"]),
        .testTarget(name: "PaxosWireTests", dependencies: ["PaxosWire", "PaxosCore"]),
        .testTarget(name: "PaxosStoreTests", dependencies: ["PaxosStore", "PaxosCore"]),
        .testTarget(name: "PaxosNodeTests", dependencies: ["PaxosNode", "PaxosCore", "PaxosStore"]),
        // Runs the built `paxos` executable (swift test builds it too): its refusals of bad input, and (as
        // root) a cluster spread over network namespaces whose hosts are cut off and healed.
        .testTarget(name: "paxosTests", dependencies: ["PaxosCore", "PaxosStore", "PaxosCheck"]),
        .testTarget(name: "PaxosTransportTests", dependencies: [
            "PaxosTransport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
