import NIOCore
import NIOPosix
@testable import PaxosTransport

/// A random port in 20000..<60000 and a random group in 239.x.y.z, so tests can run in parallel.
func randomEndpoint(port: Int? = nil) -> MulticastEndpoint {
    MulticastEndpoint(
        group: "239.\(Int.random(in: 1...254)).\(Int.random(in: 0...255)).\(Int.random(in: 1...254))",
        port: port ?? Int.random(in: 20_000..<60_000)
    )
}

/// What a transport received; touched only on its event loop.
final class Inbox: @unchecked Sendable {
    var datagrams: [(endpoint: MulticastEndpoint, bytes: [UInt8])] = []
    var bursts = 0

    func record(_ endpoint: MulticastEndpoint, _ buffer: ByteBuffer) {
        self.datagrams.append((endpoint, Array(buffer.readableBytesView)))
    }
}

/// Starts a transport whose callbacks fill `inbox`.
func startTransport(
    on loop: any EventLoop,
    listen endpoints: [MulticastEndpoint],
    settings: TransportSettings = TransportSettings(),
    inbox: Inbox = Inbox()
) async throws -> MulticastTransport {
    try await MulticastTransport.start(
        on: loop,
        listen: endpoints,
        settings: settings,
        onDatagram: { endpoint, buffer in inbox.record(endpoint, buffer) },
        onBurstEnd: { inbox.bursts += 1 }
    ).get()
}

/// Runs `body` with a fresh one-thread event loop group, shut down afterwards whatever happens.
func withEventLoop<T: Sendable>(_ body: (any EventLoop) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        let result = try await body(group.next())
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}

/// Polls `condition` on `loop` every 5 ms until it holds or `seconds` pass; returns whether it held.
func waitUntil(
    on loop: any EventLoop,
    seconds: Double = 10,
    _ condition: @escaping @Sendable () -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await loop.submit(condition).get() { return true }
        try await Task.sleep(for: .milliseconds(5))
    }
    return try await loop.submit(condition).get()
}

/// Runs `body` on `loop` and returns its result.
func onLoop<T: Sendable>(_ loop: any EventLoop, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await loop.submit(body).get()
}

/// 8-byte big-endian sequence number followed by `padding` bytes of `UInt8(truncatingIfNeeded: seq)`.
func numbered(_ seq: Int, padding: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + padding)
    withUnsafeBytes(of: UInt64(seq).bigEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: repeatElement(UInt8(truncatingIfNeeded: seq), count: padding))
    return bytes
}

func sequenceNumber(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 8 else { return nil }
    var value: UInt64 = 0
    for byte in bytes.prefix(8) { value = value << 8 | UInt64(byte) }
    return Int(value)
}
