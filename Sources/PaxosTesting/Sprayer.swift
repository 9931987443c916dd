import Foundation
import PaxosCore
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// Multicasts hostile datagrams (``HostileMessages``) to every group of a cluster, through the same
/// transport the nodes use, from the cluster's interface with loopback on: what any process on the host
/// could send. Every datagram goes to all four groups.
public enum Sprayer {
    public struct Plan: Sendable {
        /// What to send; each step draws one kind at random (``HostileMessages/Kind/catalogue`` sends the
        /// next entry of `entries`).
        public var kinds: [HostileMessages.Kind]
        public var entries: [HostileMessages.Entry]
        public var seconds: Double
        /// Datagrams per second to each group.
        public var rate: Double
        public var seed: UInt64
        /// Tag every datagram with this key (what a key holder could do); normally nil.
        public var key: String?

        public init(kinds: [HostileMessages.Kind] = HostileMessages.defaultKinds,
                    entries: [HostileMessages.Entry] = HostileMessages.select(HostileMessages.catalogue(), categories: [.absurd]),
                    seconds: Double = 2, rate: Double = 1_000, seed: UInt64 = UInt64.random(in: .min ... .max), key: String? = nil) {
            self.kinds = kinds
            self.entries = entries
            self.seconds = seconds
            self.rate = rate
            self.seed = seed
            self.key = key
        }
    }

    public struct Report: Sendable, CustomStringConvertible {
        /// Datagrams sprayed; each was sent to all four groups.
        public var perGroup = 0
        /// Datagrams the kernel took, by group.
        public var sent: [Group: Int] = [:]
        /// Steps by kind (`random`, ..., or a catalogue entry's label).
        public var counts: [String: Int] = [:]
        public var sendErrors = 0
        /// The last send error, if any.
        public var lastSendError: String?
        public var seconds = 0.0

        public var description: String {
            "\(perGroup) datagrams to each group in \(String(format: "%.1f", seconds)) s, \(sendErrors) send errors"
                + (lastSendError.map { " (last: \($0))" } ?? "") + ", \(counts.count) kinds"
        }
    }

    /// Sprays `plan` at `config`'s four groups; returns once done. Blocks the calling thread: call it from a
    /// thread of its own, or use ``spray(_:at:)``.
    ///
    /// Sends through a plain blocking UDP socket, as any process could: a full send buffer (receivers still
    /// holding what it sent) slows the spray down instead of failing sends, as a non-blocking transport would.
    public static func sprayBlocking(_ plan: Plan, at config: ClusterConfig) throws -> Report {
        precondition(!plan.kinds.isEmpty && (plan.kinds != [.catalogue] || !plan.entries.isEmpty), "nothing to spray")
        let socket = try SpraySocket(interface: config.interface, ttl: config.ttl)
        defer { socket.close() }
        let destinations = try Group.allCases.map { g -> (Group, sockaddr_in) in
            let e = config.endpoint(g)
            return (g, try SpraySocket.address(e.address, e.port))
        }
        let sealer = plan.key.map { DatagramAuthenticator(secret: $0.utf8) }
        var junk = HostileMessages.Junk(rng: SplitMix64(seed: plan.seed), fingerprint: config.settings.fingerprint)
        var report = Report()
        var nextEntry = 0
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int64(plan.seconds * 1000))
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        while ContinuousClock.now < end {
            // Pace: at most `rate` datagrams per second to each group.
            let due = Int(plan.rate * seconds(ContinuousClock.now - start))
            if report.perGroup > due {
                Thread.sleep(forTimeInterval: 0.002)
                continue
            }
            var step: [[UInt8]] = []
            while report.perGroup + step.count <= due {
                let kind = plan.kinds[Int.random(in: 0..<plan.kinds.count, using: &junk.rng)]
                if kind == .catalogue {
                    guard !plan.entries.isEmpty else { continue }
                    let entry = plan.entries[nextEntry % plan.entries.count]
                    nextEntry += 1
                    report.counts[entry.label, default: 0] += 1
                    step += entry.datagrams
                } else {
                    report.counts[kind.rawValue, default: 0] += 1
                    step.append(junk.next(kind))
                }
            }
            for d in step {
                let datagram = sealer?.seal(d) ?? d
                for (group, address) in destinations {
                    if let error = socket.send(datagram, to: address) {
                        report.sendErrors += 1
                        report.lastSendError = error
                    } else {
                        report.sent[group, default: 0] += 1
                    }
                }
            }
            report.perGroup += step.count
        }
        report.seconds = seconds(ContinuousClock.now - start)
        return report
    }

    /// Sprays on a thread of its own (the spray paces itself with sleeps), resuming when done.
    public static func spray(_ plan: Plan, at config: ClusterConfig) async throws -> Report {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try sprayBlocking(plan, at: config) })
            }
            thread.name = "paxos-sprayer"
            thread.start()
        }
    }
}

/// A blocking UDP socket sending multicast from one interface, loopback on.
struct SpraySocket {
    let fd: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(interface: String, ttl: Int) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var iface = in_addr()
        guard inet_pton(AF_INET, interface, &iface) == 1 else {
            Glibc.close(fd)
            throw Failure(description: "'\(interface)' is not an IPv4 address")
        }
        var loop: UInt8 = 1
        var hops = UInt8(clamping: ttl)
        var buffer: Int32 = 4 << 20
        guard setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &iface, socklen_t(MemoryLayout<in_addr>.size)) == 0,
              setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1) == 0,
              setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &hops, 1) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw Failure(description: "setsockopt: \(why)")
        }
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, socklen_t(MemoryLayout<Int32>.size))
    }

    static func address(_ group: String, _ port: Int) throws -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, group, &a.sin_addr) == 1 else { throw Failure(description: "'\(group)' is not an IPv4 address") }
        return a
    }

    /// Sends one datagram; the error's text, or nil.
    func send(_ bytes: [UInt8], to address: sockaddr_in) -> String? {
        var a = address
        let n = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        return n == bytes.count ? nil : String(cString: strerror(errno))
    }

    func close() { Glibc.close(fd) }
}
