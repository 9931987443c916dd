import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import PaxosTransport

/// A hand-run measurement, not an assertion: sends datagrams on loopback as fast as one event loop can and
/// prints the rates seen. Run with
///
///     PAXOS_TRANSPORT_BENCH=1 swift test --scratch-path .build-transport --filter ThroughputMeasurement
///
/// Optional environment: BENCH_COUNT (default 200000), BENCH_SIZE (bytes, default 100), BENCH_VECTOR
/// (vectorReadMessageCount, default "0,16": each value is measured), BENCH_CHUNK (sends per loop tick, default 256).
@Suite("Throughput measurement (by hand)")
struct ThroughputMeasurement {
    static let environment = ProcessInfo.processInfo.environment

    @Test(.enabled(if: environment["PAXOS_TRANSPORT_BENCH"] != nil, "a measurement, not a test: set PAXOS_TRANSPORT_BENCH=1 to run it"))
    func measure() async throws {
        let count = Int(Self.environment["BENCH_COUNT"] ?? "") ?? 200_000
        let size = Int(Self.environment["BENCH_SIZE"] ?? "") ?? 100
        let chunk = Int(Self.environment["BENCH_CHUNK"] ?? "") ?? 256
        let vectors = (Self.environment["BENCH_VECTOR"] ?? "0,16").split(separator: ",").compactMap { Int($0) }
        for vector in vectors {
            let report = try await Self.run(count: count, size: size, chunk: chunk, vector: vector)
            print(report)
        }
    }

    static func run(count: Int, size: Int, chunk: Int, vector: Int) async throws -> String {
        try await withEventLoop { senderLoop in
            try await withEventLoop { receiverLoop in
                try await Self.run(count: count, size: size, chunk: chunk, vector: vector, senderLoop, receiverLoop)
            }
        }
    }

    static func run(
        count: Int,
        size: Int,
        chunk: Int,
        vector: Int,
        _ senderLoop: any EventLoop,
        _ receiverLoop: any EventLoop
    ) async throws -> String {
        let endpoint = randomEndpoint()
        let counter = Counter()
        let receiver = try await MulticastTransport.start(
            on: receiverLoop,
            listen: [endpoint],
            settings: TransportSettings(vectorReadMessageCount: vector),
            onDatagram: { _, buffer in counter.datagrams += 1; counter.bytes += buffer.readableBytes },
            onBurstEnd: { counter.bursts += 1 }
        ).get()
        let sender = try await MulticastTransport.start(
            on: senderLoop,
            listen: [],
            onDatagram: { _, _ in },
            onBurstEnd: {}
        ).get()

        let payload = [UInt8](repeating: 0xAB, count: size)
        let pump = Pump(transport: sender, endpoint: endpoint, payload: payload, total: count, chunk: chunk)
        let start = ContinuousClock.now
        try await pump.run().get()
        let sendTime = ContinuousClock.now - start

        // Wait until everything arrived or nothing arrived for 300 ms.
        var last = -1
        var lastChange = ContinuousClock.now
        while true {
            let now = try await receiverLoop.submit { counter.datagrams }.get()
            if now >= count { break }
            if now != last {
                last = now
                lastChange = ContinuousClock.now
            } else if ContinuousClock.now - lastChange > .milliseconds(300) {
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        let receiveTime = ContinuousClock.now - start
        let (received, bursts, errors) = try await receiverLoop.submit {
            (counter.datagrams, counter.bursts, receiver.receiveErrors)
        }.get()
        let sendErrors = try await senderLoop.submit { sender.sendErrors }.get()
        let granted = try await receiverLoop.submit { receiver.effectiveReceiveBufferBytes }.get()
        try await sender.close().get()
        try await receiver.close().get()

        func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let sendRate = Double(count) / seconds(sendTime)
        let receiveRate = Double(received) / seconds(receiveTime)
        return String(
            format: "vector=%d size=%dB sent=%d in %.3fs (%.0f/s, sendErrors=%d) received=%d (%.2f%% loss, %.0f/s, %.1f MB/s) bursts=%d (%.1f/burst) rcvbuf=%d receiveErrors=%d",
            vector, size, count, seconds(sendTime), sendRate, sendErrors, received,
            100.0 * Double(count - received) / Double(count), receiveRate, receiveRate * Double(size) / 1e6,
            bursts, Double(received) / Double(max(bursts, 1)), granted, errors
        )
    }
}

private final class Counter: @unchecked Sendable {
    var datagrams = 0
    var bytes = 0
    var bursts = 0
}

/// Sends `total` datagrams, `chunk` per event-loop tick, flushing after each chunk.
private final class Pump: @unchecked Sendable {
    let transport: MulticastTransport
    let endpoint: MulticastEndpoint
    let payload: [UInt8]
    let total: Int
    let chunk: Int
    var sent = 0
    let done: EventLoopPromise<Void>

    init(transport: MulticastTransport, endpoint: MulticastEndpoint, payload: [UInt8], total: Int, chunk: Int) {
        self.transport = transport
        self.endpoint = endpoint
        self.payload = payload
        self.total = total
        self.chunk = chunk
        self.done = transport.eventLoop.makePromise()
    }

    func run() -> EventLoopFuture<Void> {
        self.transport.eventLoop.execute { self.step() }
        return self.done.futureResult
    }

    private func step() {
        let n = min(self.chunk, self.total - self.sent)
        for _ in 0..<n { self.transport.send(self.payload, to: self.endpoint) }
        self.transport.flush()
        self.sent += n
        if self.sent < self.total {
            self.transport.eventLoop.execute { self.step() }
        } else {
            self.done.succeed()
        }
    }
}
