import DequeModule
import Foundation
import Logging
import NIOCore
import PaxosCore
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// The client of `paxos-bench client [--rate R] [--latency-log FILE]`: standard input is read ahead on its own
/// thread into a queue, and values are handed from that queue to the client core
///
/// - closed loop (no `--rate`): whenever the client window has room (after every burst of datagrams,
///   tick or input), so a value's latency is measured from the moment the client could submit it;
/// - open loop (`--rate R`): on a 1 ms timer, as many as the schedule "R values per second from the
///   first value read" wants by now, whatever the window (values beyond it wait in the client core, and
///   that wait counts in their latency).
///
/// With `--latency-log` every value handed over is recorded (see BenchLatencyLog.swift). The protocol
/// is untouched: this is a `Node` around the usual `ClientNode`.
final class PacedClientNode: Node, @unchecked Sendable {
    let inner: ClientNode
    private let log: ClientLatencyLog?
    private let rate: Double?
    private let window: Int
    /// Lines read and not yet handed to the client core.
    private var pending: Deque<[UInt8]> = []
    private var inputEnded = false
    private var inputClosed = false
    private var fed: UInt64 = 0
    /// Open loop: CLOCK_MONOTONIC ns of the schedule's start (the first feeding with input available).
    private var scheduleStart: UInt64?
    private var timer: RepeatedTask?
    private var socketsOpen = false

    init(inner: ClientNode, log: ClientLatencyLog?, rate: Double?, window: Int) {
        self.inner = inner
        self.log = log
        self.rate = rate
        self.window = window
    }

    var counters: NodeCounters { inner.counters }
    var logger: Logger? {
        get { inner.logger }
        set { inner.logger = newValue }
    }
    var progress: NodeProgress { inner.progress }
    var isFinished: Bool { inner.isFinished }
    func receive(_ datagram: [UInt8]) { inner.receive(datagram) }
    func tick(now: UInt64) {
        // The runtime schedules ticks only once its sockets are open: values handed over earlier would be
        // "sent" into no socket and wait for the client's retry (see the note in BENCHMARKS.md).
        socketsOpen = true
        inner.tick(now: now)
    }

    func endOfBurst() throws {
        feed()
        try inner.endOfBurst()
    }

    /// On the loop: lines read from standard input.
    func append(_ lines: [[UInt8]]) { pending.append(contentsOf: lines) }

    /// On the loop: standard input is at its end.
    func endInput() { inputEnded = true }

    /// Starts reading standard input (and, in open loop, the pacing timer).
    func start(runtime: NodeRuntime) {
        let reader = PacedInputReader(node: self, runtime: runtime)
        Thread.detachNewThread { reader.run() }
        if rate != nil {
            timer = runtime.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(1), delay: .milliseconds(1)) {
                [runtime] _ in runtime.execute {}
            }
        }
    }

    /// After the runtime returned (its loop, and so the timer, are gone): writes out the log.
    func stop() { log?.close() }

    private func feed() {
        guard socketsOpen else { return }
        let available = pending.count
        if available > 0 {
            let now = monotonicNanoseconds()
            var count: Int
            if let rate {
                let start = scheduleStart ?? now
                scheduleStart = start
                let due = UInt64(Double(now - start) * rate / 1e9) + 1
                count = due > fed ? Int(min(due - fed, UInt64(available))) : 0
            } else {
                count = min(max(window - inner.client.undecided, 0), available)
            }
            if count > 0 {
                let chunk = Array(pending.prefix(count))
                pending.removeFirst(count)
                if let log {
                    for _ in 0..<count {
                        let k = fed
                        fed += 1
                        let intended = rate.map { scheduleStart! + UInt64(Double(k) * 1e9 / $0) } ?? now
                        log.record(sequence: k + 1, fed: now, intended: intended)
                    }
                } else {
                    fed += UInt64(count)
                }
                inner.submit(chunk)
            }
        }
        if inputEnded && !inputClosed && pending.isEmpty {
            inputClosed = true
            timer?.cancel()
            inner.closeInput()
        }
    }
}

/// Reads standard input on its own thread and queues complete lines in the node, on the loop.
final class PacedInputReader: @unchecked Sendable {
    let node: PacedClientNode
    let runtime: NodeRuntime

    init(node: PacedClientNode, runtime: NodeRuntime) {
        self.node = node
        self.runtime = runtime
    }

    func run() {
        let last = readLines(fromDescriptor: 0) { batch in
            runtime.execute { [node] in node.append(batch) }
        }
        runtime.execute { [node] in
            if !last.isEmpty { node.append([last]) }
            node.endInput()
        }
    }
}
