// swift-tools-version: 6.0
import PackageDescription

// A replicated key-value store on the Paxos library: its own package, so the main build does not pay for
// Hummingbird. It depends on the library by path, as any application would.
let package = Package(
    name: "replicated-kv",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "paxos", path: "../.."),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libsqlite3 (apt-get install libsqlite3-dev), as the main package's CSQLite.
        .systemLibrary(name: "KVSQLite", path: "Sources/KVSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // A replica: a learner and a client of the broadcast, commands applied in delivery order to SQLite,
        // and its HTTP routes.
        .target(name: "ReplicatedKV", dependencies: [
            "KVSQLite",
            .product(name: "Paxos", package: "paxos"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        .executableTarget(name: "replicated-kv", dependencies: [
            "ReplicatedKV",
            .product(name: "Paxos", package: "paxos"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ReplicatedKVTests", dependencies: [
            "ReplicatedKV",
            .product(name: "Paxos", package: "paxos"),
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
