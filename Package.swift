// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "paxos",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "paxos", targets: ["paxos"]),
        .library(name: "PaxosCore", targets: ["PaxosCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The protocol: pure value types, no I/O, no clocks, no randomness of its own.
        .target(name: "PaxosCore"),
        // libsqlite3 as a Swift module (apt-get install libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // Durable state of acceptors, learners and proposers in SQLite; schema in migrations/.
        .target(name: "PaxosStore", dependencies: ["PaxosCore", "CSQLite"]),
        // IP multicast datagrams over SwiftNIO.
        .target(name: "PaxosTransport", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // The one executable: a subcommand per role; thin shells around PaxosCore.
        .executableTarget(name: "paxos", dependencies: [
            "PaxosCore", "PaxosStore", "PaxosTransport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "PaxosCoreTests", dependencies: ["PaxosCore"]),
        .testTarget(name: "PaxosStoreTests", dependencies: ["PaxosStore", "PaxosCore"]),
        .testTarget(name: "PaxosTransportTests", dependencies: [
            "PaxosTransport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
