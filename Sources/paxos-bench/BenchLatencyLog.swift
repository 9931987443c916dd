import Foundation
import PaxosNode
import PaxosCore

#if canImport(Glibc)
import Glibc
#endif

// Latency logs of the benchmark (scripts/bench.sh): a client records when each value was handed to its
// client core, a learner when each value was written to standard output. Both use CLOCK_MONOTONIC,
// which every process of the machine shares (network namespaces included), so `paxos-bench report`
// joins the two on (client, incarnation, sequence).
//
// Binary, little-endian, fixed-size records after a fixed-size header:
//
//   client log   header 64 bytes: "PXBC", version u32 (1), client u32, 0 u32, incarnation u64,
//                rate f64 bits (values/s, 0 = closed loop), records u64, user CPU ns u64,
//                system CPU ns u64, 0 u64
//                record 24 bytes: sequence u64 (k = the k-th value fed, from 1), fed ns u64 (when it was
//                handed to the client core), intended ns u64 (open loop: when the schedule wanted it fed;
//                closed loop: = fed)
//   learner log  header 32 bytes: "PXBL", version u32 (1), learner u32, 0 u32, records u64, 0 u64
//                record 32 bytes: client u32, 0 u32, incarnation u64, sequence u64, written ns u64
//
// `records` and the CPU times are filled in when the log is closed; a log whose process was killed
// has 0 there and its record count is taken from the file size.

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// User and system CPU time of this process (all its threads) in nanoseconds.
func processCPUNanoseconds() -> (user: UInt64, system: UInt64) {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func ns(_ t: timeval) -> UInt64 { UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_usec) * 1_000 }
    return (ns(usage.ru_utime), ns(usage.ru_stime))
}

enum LatencyLogFormat {
    static let clientMagic: [UInt8] = Array("PXBC".utf8)
    static let learnerMagic: [UInt8] = Array("PXBL".utf8)
    static let version: UInt32 = 1
    static let clientHeaderBytes = 64
    static let clientRecordBytes = 24
    static let learnerHeaderBytes = 32
    static let learnerRecordBytes = 32
}

/// Appends fixed-size records to a file through a buffer; the header is rewritten on close.
///
/// The buffer is raw memory written with plain stores: a learner's log takes five fields per value, and
/// appending them to a `[UInt8]` through `append(contentsOf:)` showed as 3.5% of a bench learner's
/// profile in the closed loop (BENCHMARKS.md, "Learner CPU per value"), a cost `paxos learner` does not have.
final class LatencyLogWriter {
    let path: String
    private let fd: Int32
    private let bufferLimit = 1 << 20
    /// `bufferLimit` plus room for one more record (at most 64 bytes) or a header.
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    private(set) var records: UInt64 = 0
    private var failed = false

    init(path: String, header: [UInt8]) throws {
        self.path = path
        fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StartupError("cannot open latency log '\(path)': \(String(cString: strerror(errno)))") }
        buffer = .allocate(byteCount: bufferLimit + max(64, header.count), alignment: 8)
        header.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        used = header.count
        flush()
    }

    deinit { buffer.deallocate() }

    @inline(__always) func append(_ v: UInt64) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt64.self)
        used += 8
    }

    @inline(__always) func append(_ v: UInt32) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt32.self)
        used += 4
    }

    /// Call after each complete record.
    @inline(__always) func endRecord() {
        records += 1
        if used >= bufferLimit { flush() }
    }

    func flush() {
        guard used > 0 else { return }
        if !failed {
            do { try LatencyLogIO.writeAll(fd: fd, bytes: UnsafeRawBufferPointer(start: buffer, count: used)) } catch { failed = true }
        }
        used = 0
    }

    /// Flushes, writes `header` over the start of the file and closes it.
    func close(header: [UInt8]) {
        flush()
        header.withUnsafeBytes { _ = pwrite(fd, $0.baseAddress, $0.count, 0) }
        _ = Glibc.close(fd)
    }
}

/// write(2) until everything is written (EINTR retried).
enum LatencyLogIO {
    struct WriteError: Error {}
    static func writeAll(fd: Int32, bytes raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw WriteError() }
            offset += n
        }
    }
}

private func littleEndianBytes(_ values: [UInt64]) -> [UInt8] {
    var out: [UInt8] = []
    for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    return out
}

private func headerPrefix(magic: [UInt8], id: UInt32) -> [UInt8] {
    var out = magic
    withUnsafeBytes(of: LatencyLogFormat.version.littleEndian) { out.append(contentsOf: $0) }
    withUnsafeBytes(of: id.littleEndian) { out.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt32(0)) { out.append(contentsOf: $0) }
    return out
}

/// A client's log: one record per value handed to the client core.
final class ClientLatencyLog {
    private let writer: LatencyLogWriter
    private let client: UInt32
    private let incarnation: UInt64
    private let rate: Double

    init(path: String, client: UInt32, incarnation: UInt64, rate: Double?) throws {
        self.client = client
        self.incarnation = incarnation
        self.rate = rate ?? 0
        writer = try LatencyLogWriter(
            path: path, header: Self.header(client: client, incarnation: incarnation, rate: rate ?? 0, records: 0, cpu: (0, 0)))
    }

    static func header(client: UInt32, incarnation: UInt64, rate: Double, records: UInt64,
                       cpu: (user: UInt64, system: UInt64)) -> [UInt8] {
        headerPrefix(magic: LatencyLogFormat.clientMagic, id: client)
            + littleEndianBytes([incarnation, rate.bitPattern, records, cpu.user, cpu.system, 0])
    }

    @inline(__always) func record(sequence: UInt64, fed: UInt64, intended: UInt64) {
        writer.append(sequence)
        writer.append(fed)
        writer.append(intended)
        writer.endRecord()
    }

    /// Writes the record count and this process's CPU time into the header, and closes the file.
    func close() {
        writer.close(header: Self.header(client: client, incarnation: incarnation, rate: rate,
                                         records: writer.records, cpu: processCPUNanoseconds()))
    }
}

/// A learner's log: one record per value written to standard output.
final class LearnerLatencyLog {
    private let writer: LatencyLogWriter
    private let learner: UInt32

    init(path: String, learner: UInt32) throws {
        self.learner = learner
        writer = try LatencyLogWriter(path: path, header: Self.header(learner: learner, records: 0))
    }

    static func header(learner: UInt32, records: UInt64) -> [UInt8] {
        headerPrefix(magic: LatencyLogFormat.learnerMagic, id: learner) + littleEndianBytes([records, 0])
    }

    /// `print` followed by one record per delivery, all stamped with the time the write returned.
    func wrap(_ print: @escaping ([Delivery]) throws -> Void) -> ([Delivery]) throws -> Void {
        { [self] deliveries in
            try print(deliveries)
            let now = monotonicNanoseconds()
            for d in deliveries {
                let id = d.submission.id
                writer.append(id.client)
                writer.append(UInt32(0))
                writer.append(id.incarnation)
                writer.append(id.sequence)
                writer.append(now)
                writer.endRecord()
            }
        }
    }

    func close() {
        writer.close(header: Self.header(learner: learner, records: writer.records))
    }
}
