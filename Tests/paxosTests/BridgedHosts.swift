import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// iproute2's `ip`, run with Foundation.Process.
enum IPRoute {
    static let path: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `ip ARGUMENTS`; throws with its error line if it fails. Returns its standard output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        guard let path else { throw Failure(description: "iproute2's ip is not installed") }
        let run = try Paxos.run([path] + arguments, timeout: 10)
        guard run.status == 0, !run.timedOut else {
            let stderr = String(decoding: run.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "ip \(arguments.joined(separator: " ")) failed: \(run.timedOut ? "timed out" : stderr)")
        }
        return String(decoding: run.stdout, as: UTF8.self)
    }
}

/// Several hosts, each a private network namespace, joined by a Linux bridge in a namespace of its own (the
/// "switch": no STP, multicast snooping off, so multicast floods every port). Host k's veth0 has 10.77.0.k/24
/// (its peer is port p<k> on the bridge) and the route 224.0.0.0/4 dev veth0; no IPv6 (no router solicitations
/// or MLD chatter on the bridge). Names are unique to this process and instance; ``tearDown()`` deletes every
/// namespace created (hosts first: their veth ends take the bridge ports along), so nothing is left on the
/// machine, and nothing is ever created outside these namespaces.
final class BridgedHosts: @unchecked Sendable {
    /// How a host is cut off: at the switch (its port on the bridge set down, as if the cable were pulled
    /// there: the host's own interface stays up and its local processes still hear each other), or at the
    /// host (its own veth set down: the kernel drops its routes; healing re-adds the multicast route).
    enum CutSide: String {
        case atSwitch = "switch"
        case atHost = "host"
    }

    let hosts: Int
    let side: CutSide
    let prefix: String
    private(set) var created: [String] = []

    var switchNamespace: String { prefix + "-sw" }
    func namespace(_ k: Int) -> String { "\(prefix)-h\(k)" }
    static func address(_ k: Int) -> String { "10.77.0.\(k)" }

    init(hosts: Int, side: CutSide) throws {
        self.hosts = hosts
        self.side = side
        prefix = "pxmh\(getpid())-\(String(UInt16.random(in: 0...UInt16.max), radix: 16))"
        do {
            try setUp()
        } catch {
            _ = tearDown()
            throw error
        }
    }

    private func add(_ name: String) throws {
        try IPRoute.run(["netns", "add", name])
        created.append(name) // at once, so tearDown removes it even if a later step fails
    }

    private func setUp() throws {
        let sw = switchNamespace
        try add(sw)
        try IPRoute.run(["-n", sw, "link", "set", "lo", "up"])
        try IPRoute.run(["-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "mcast_snooping", "0"])
        try IPRoute.run(["-n", sw, "link", "set", "br0", "up"])
        for k in 1...hosts {
            let ns = namespace(k)
            try add(ns)
            _ = try? IPRoute.run(["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                                  "net.ipv6.conf.default.disable_ipv6=1"])
            try IPRoute.run(["-n", ns, "link", "set", "lo", "up"])
            try IPRoute.run(["-n", ns, "link", "add", "veth0", "type", "veth", "peer", "name", "p\(k)", "netns", sw])
            try IPRoute.run(["-n", sw, "link", "set", "p\(k)", "master", "br0"])
            try IPRoute.run(["-n", sw, "link", "set", "p\(k)", "up"])
            try IPRoute.run(["-n", ns, "addr", "add", Self.address(k) + "/24", "dev", "veth0"])
            try IPRoute.run(["-n", ns, "link", "set", "veth0", "multicast", "on"])
            try IPRoute.run(["-n", ns, "link", "set", "veth0", "up"])
            try IPRoute.run(["-n", ns, "route", "add", "224.0.0.0/4", "dev", "veth0"])
        }
    }

    /// Deletes the namespaces created, in reverse order. Returns what went wrong: a namespace that could not
    /// be deleted, or one in which some process still ran (the caller stops its own processes first).
    func tearDown() -> [String] {
        var problems: [String] = []
        for ns in created.reversed() {
            if let pids = try? IPRoute.run(["netns", "pids", ns]), !pids.isEmpty {
                problems.append("processes still running in namespace \(ns): \(pids.split(separator: "\n").joined(separator: " "))")
            }
            do { try IPRoute.run(["netns", "del", ns]) } catch { problems.append("\(error)") }
        }
        created = []
        return problems
    }

    func cut(_ k: Int) throws {
        switch side {
        case .atSwitch: try IPRoute.run(["-n", switchNamespace, "link", "set", "p\(k)", "down"])
        case .atHost: try IPRoute.run(["-n", namespace(k), "link", "set", "veth0", "down"])
        }
    }

    /// Setting a host's link down flushes its routes; the connected one returns with the link, not ours.
    func heal(_ k: Int) throws {
        switch side {
        case .atSwitch: try IPRoute.run(["-n", switchNamespace, "link", "set", "p\(k)", "up"])
        case .atHost:
            try IPRoute.run(["-n", namespace(k), "link", "set", "veth0", "up"])
            try IPRoute.run(["-n", namespace(k), "route", "replace", "224.0.0.0/4", "dev", "veth0"])
        }
    }

    /// The command line that runs `command` on host k.
    func exec(on k: Int, _ command: [String]) -> [String] {
        [IPRoute.path ?? "ip", "netns", "exec", namespace(k)] + command
    }
}

// MARK: the plumbing probe: multicast between the hosts, independent of paxos

/// UDP sockets opened inside a host's namespace from this process: a thread of its own enters the namespace
/// (setns changes only the calling thread's), opens the socket, and returns; the socket stays in that
/// namespace wherever it is used.
enum ProbeSocket {
    private typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    // glibc's setns (not in Swift's Glibc module).
    private static let setns: SetNS? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns")
        .map { unsafeBitCast($0, to: SetNS.self) }
    private static let cloneNewNet: Int32 = 0x4000_0000 // CLONE_NEWNET
    static let group = "239.77.0.1"
    static let port: UInt16 = 4999

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `open` on a fresh thread inside namespace `ns`; returns its socket.
    private static func opened(in ns: String, _ open: @escaping @Sendable () throws -> Int32) throws -> Int32 {
        final class Result: @unchecked Sendable { var fd: Int32 = -1; var error: String? }
        let result = Result(), done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let target = Glibc.open("/run/netns/" + ns, O_RDONLY | O_CLOEXEC)
            let home = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            defer { if target >= 0 { close(target) }; if home >= 0 { close(home) } }
            guard let setns, target >= 0, home >= 0, setns(target, cloneNewNet) == 0 else {
                result.error = "cannot enter network namespace \(ns): \(String(cString: strerror(errno)))"
                return
            }
            do { result.fd = try open() } catch { result.error = "\(error)" }
            if setns(home, cloneNewNet) != 0 { result.error = "cannot leave network namespace \(ns)" }
        }
        thread.start()
        done.wait()
        if let error = result.error {
            if result.fd >= 0 { close(result.fd) }
            throw Failure(description: error)
        }
        return result.fd
    }

    private static func inAddr(_ dotted: String) -> in_addr {
        var a = in_addr()
        inet_pton(AF_INET, dotted, &a)
        return a
    }

    private static func check(_ result: Int32, _ what: String) throws {
        if result != 0 { throw Failure(description: "\(what): \(String(cString: strerror(errno)))") }
    }

    private static func setOption<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: T, _ what: String) throws {
        var value = value
        try check(setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<T>.size)), what)
    }

    private static func bindTo(_ fd: Int32, _ address: String, _ port: UInt16) throws {
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = inAddr(address)
        try check(withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }, "bind \(address):\(port)")
    }

    private static func udp() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_UDP))
        if fd < 0 { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        return fd
    }

    /// Joined to the probe group on host k's interface, bound to the group's port, hearing only groups it
    /// joined (IP_MULTICAST_ALL off), with a receive buffer big enough for every probe datagram at once.
    static func receiver(on hosts: BridgedHosts, _ k: Int) throws -> Int32 {
        let address = BridgedHosts.address(k)
        return try opened(in: hosts.namespace(k)) {
            let fd = try udp()
            do {
                try setOption(fd, SOL_SOCKET, SO_REUSEADDR, Int32(1), "SO_REUSEADDR")
                _ = try? setOption(fd, SOL_SOCKET, SO_RCVBUFFORCE, Int32(8 << 20), "SO_RCVBUFFORCE")
                try bindTo(fd, group, port)
                try setOption(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP,
                              ip_mreq(imr_multiaddr: inAddr(group), imr_interface: inAddr(address)), "IP_ADD_MEMBERSHIP")
                _ = try? setOption(fd, Int32(IPPROTO_IP), 49 /* IP_MULTICAST_ALL */, Int32(0), "IP_MULTICAST_ALL")
                return fd
            } catch {
                close(fd)
                throw error
            }
        }
    }

    /// Sends from host k's address (IP_MULTICAST_IF, TTL 1, loop on).
    static func sender(on hosts: BridgedHosts, _ k: Int) throws -> Int32 {
        let address = BridgedHosts.address(k)
        return try opened(in: hosts.namespace(k)) {
            let fd = try udp()
            do {
                try bindTo(fd, address, 0)
                try setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, inAddr(address), "IP_MULTICAST_IF")
                try setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, Int32(1), "IP_MULTICAST_TTL")
                try setOption(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, Int32(1), "IP_MULTICAST_LOOP")
                return fd
            } catch {
                close(fd)
                throw error
            }
        }
    }

    /// One datagram of `size` bytes starting "TAG\n" to the probe group. Errors are ignored: a cut link may
    /// refuse it.
    static func send(_ fd: Int32, tag: String, size: Int) {
        var payload = Array((tag + "\n").utf8)
        payload += Array(repeating: UInt8(ascii: "x"), count: max(0, size - payload.count))
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_port = port.bigEndian
        sa.sin_addr = inAddr(group)
        _ = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, payload, payload.count, Int32(MSG_DONTWAIT), $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// What has arrived on `fd` so far, as "TAG SIZE" (the datagram's first line and its length).
    static func drain(_ fd: Int32, into heard: inout Set<String>) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n >= 0 else { return }
            let tag = buffer[..<n].split(separator: UInt8(ascii: "\n"), maxSplits: 1, omittingEmptySubsequences: false).first ?? []
            heard.insert("\(String(decoding: tag, as: UTF8.self)) \(n)")
        }
    }
}

extension BridgedHosts {
    /// A round of the probe: a receiver on each host of `want` (host -> the tags it must hear) and a sender
    /// on each host of `send` (host -> sizes); three datagrams of each size from each sender, 50 ms apart,
    /// tagged "h<k>-<size>". Receivers listen until they heard every tag they want, or for `timeout` seconds.
    /// Returns what each receiver heard ("TAG SIZE" lines).
    func probe(want: [Int: Set<String>], send: [Int: [Int]], timeout: Double) throws -> [Int: Set<String>] {
        var receivers: [Int: Int32] = [:], senders: [Int: Int32] = [:]
        defer { for fd in Array(receivers.values) + Array(senders.values) { close(fd) } }
        for k in want.keys { receivers[k] = try ProbeSocket.receiver(on: self, k) }
        for k in send.keys { senders[k] = try ProbeSocket.sender(on: self, k) }
        let deadline = Date().addingTimeInterval(timeout)
        var heard = [Int: Set<String>](uniqueKeysWithValues: want.keys.map { ($0, []) })
        func drainAll() { for (k, fd) in receivers { ProbeSocket.drain(fd, into: &heard[k, default: []]) } }
        func complete() -> Bool {
            want.allSatisfy { k, tags in tags.isSubset(of: Set(heard[k, default: []].map { String($0.split(separator: " ")[0]) })) }
        }
        for round in 0..<3 {
            for (k, fd) in senders { for size in send[k]! { ProbeSocket.send(fd, tag: "h\(k)-\(size)", size: size) } }
            drainAll()
            if round < 2 { usleep(50_000) }
        }
        while true {
            drainAll()
            let wanted = want.values.contains { !$0.isEmpty }
            if (wanted && complete()) || Date() >= deadline { break }
            var fds = receivers.values.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(max(1, min(50, deadline.timeIntervalSinceNow * 1000))))
        }
        return heard
    }

    /// The plumbing check, before any paxos process: 100-byte and 60000-byte (fragmented) datagrams cross
    /// between all hosts; a cut host neither reaches nor hears host 2; healed, it does again. Returns the
    /// problems (none: the network works as the scenarios assume).
    func plumbing() -> [String] {
        var problems: [String] = []
        do {
            var want: [Int: Set<String>] = [:], send: [Int: [Int]] = [:]
            for k in 1...hosts {
                want[k] = Set((1...hosts).filter { $0 != k }.flatMap { ["h\($0)-100", "h\($0)-60000"] })
                send[k] = [100, 60000]
            }
            let mesh = try probe(want: want, send: send, timeout: 3)
            for k in 1...hosts {
                let tags = Set(mesh[k, default: []].map { String($0.split(separator: " ")[0]) })
                if !want[k]!.isSubset(of: tags) {
                    let others = mesh[k, default: []].filter { !$0.hasPrefix("h\(k)-") }.sorted()
                    problems.append("host \(k) heard only: \(others.isEmpty ? "nothing" : others.joined(separator: ", "))")
                }
            }
            guard problems.isEmpty else { return problems }
            try cut(1)
            // Both receivers must time out empty-handed.
            let cutOff = try probe(want: [2: [], 1: []], send: [1: [100], 2: [100]], timeout: 0.7)
            if cutOff[2, default: []].contains(where: { $0.hasPrefix("h1-100 ") }) {
                problems.append("host 2 still heard host 1 while it was cut off")
            }
            if cutOff[1, default: []].contains(where: { $0.hasPrefix("h2-100 ") }) {
                problems.append("host 1 still heard host 2 while it was cut off")
            }
            try heal(1)
            let healed = try probe(want: [2: ["h1-100"], 1: ["h2-100"]], send: [1: [100], 2: [100]], timeout: 2)
            if !healed[2, default: []].contains("h1-100 100") || !healed[1, default: []].contains("h2-100 100") {
                problems.append("after healing host 1, multicast between hosts 1 and 2 does not get through")
            }
        } catch {
            problems.append("\(error)")
        }
        return problems
    }
}
