import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// `paxos-bench multicast send|recv`: the machine's raw multicast rate, for scripts/bench.sh. Plain
/// sockets, no paxos: one process sends fixed-size datagrams as fast as it can for a while, others
/// count what they receive. Each prints one JSON line on standard output.
struct BenchMulticastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "multicast",
        abstract: "Benchmark: raw IP multicast datagrams/s between a sender and receivers (no paxos).")

    enum Mode: String, ExpressibleByArgument { case send, recv }

    @Argument(help: "send or recv")
    var mode: Mode

    @Option(help: "Multicast group.")
    var group: String = "239.255.0.99"

    @Option(help: "UDP port.")
    var port: UInt16 = 9999

    @Option(help: "IPv4 address of the interface to send and join on.")
    var interface: String = "127.0.0.1"

    @Option(help: "send: how long to send; recv: give up after this long plus 3 s.")
    var seconds: Double = 3

    @Option(help: "send: datagram size in bytes.")
    var size: Int = 64

    @Option(help: "recv: SO_RCVBUF asked for (the kernel caps it at net.core.rmem_max; paxos asks for 8 MiB).")
    var rcvbuf: Int32 = 8 << 20

    func run() throws {
        try guarded(tool: tool) {
            guard seconds > 0, seconds <= 60 else { throw StartupError("--seconds must be in (0, 60]") }
            guard (1...65_507).contains(size) else { throw StartupError("--size must be 1...65507") }
            var groupAddr = in_addr(), ifAddr = in_addr()
            guard inet_pton(AF_INET, group, &groupAddr) == 1 else { throw StartupError("bad --group \(group)") }
            guard inet_pton(AF_INET, interface, &ifAddr) == 1 else { throw StartupError("bad --interface \(interface)") }
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw StartupError("socket: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var dest = sockaddr_in()
            dest.sin_family = sa_family_t(AF_INET)
            dest.sin_port = port.bigEndian
            dest.sin_addr = groupAddr
            switch mode {
            case .send: try send(fd: fd, dest: dest, ifAddr: ifAddr)
            case .recv: try receive(fd: fd, bindTo: dest, group: groupAddr, ifAddr: ifAddr)
            }
        }
    }

    private func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw StartupError("\(what): \(String(cString: strerror(errno)))") }
    }

    private func send(fd: Int32, dest: sockaddr_in, ifAddr: in_addr) throws {
        var ifa = ifAddr
        try check(setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &ifa, socklen_t(MemoryLayout<in_addr>.size)), "IP_MULTICAST_IF")
        var ttl: UInt8 = 1, loop: UInt8 = 1
        try check(setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, 1), "IP_MULTICAST_TTL")
        try check(setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1), "IP_MULTICAST_LOOP")
        let payload = [UInt8](repeating: 0x61, count: size)
        var to = dest
        var sent = 0, errors = 0
        let start = monotonicNanoseconds()
        let deadline = start + UInt64(seconds * 1e9)
        var now = start
        payload.withUnsafeBytes { p in
            withUnsafePointer(to: &to) { toPtr in
                toPtr.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    while now < deadline {
                        for _ in 0..<64 {
                            if sendto(fd, p.baseAddress, p.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) >= 0 {
                                sent += 1
                            } else {
                                errors += 1
                            }
                        }
                        now = monotonicNanoseconds()
                    }
                }
            }
        }
        let elapsed = Double(now - start) / 1e9
        print("{\"role\":\"send\",\"datagrams\":\(sent),\"errors\":\(errors),\"seconds\":\(elapsed),\"per_s\":\(Double(sent) / elapsed),\"size\":\(size)}")
    }

    private func receive(fd: Int32, bindTo: sockaddr_in, group: in_addr, ifAddr: in_addr) throws {
        var one: Int32 = 1, zero: Int32 = 0
        try check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4), "SO_REUSEADDR")
        var buf = rcvbuf
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, 4)
        var granted: Int32 = 0
        var len = socklen_t(4)
        _ = getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &granted, &len)
        var addr = bindTo
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try check(rc, "bind")
        var mreq = ip_mreq(imr_multiaddr: group, imr_interface: ifAddr)
        try check(setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &mreq, socklen_t(MemoryLayout<ip_mreq>.size)), "IP_ADD_MEMBERSHIP")
        _ = setsockopt(fd, Int32(IPPROTO_IP), 49 /* IP_MULTICAST_ALL */, &zero, 4)
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        try check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size)), "SO_RCVTIMEO")
        FileHandle.standardError.write(Data("READY\n".utf8))
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let giveUp = monotonicNanoseconds() + UInt64((seconds + 3) * 1e9)
        var count = 0
        var first: UInt64 = 0, last: UInt64 = 0
        buffer.withUnsafeMutableBytes { b in
            while true {
                let n = recv(fd, b.baseAddress, b.count, 0)
                let now = monotonicNanoseconds()
                if n >= 0 {
                    if count == 0 { first = now }
                    count += 1
                    last = now
                } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                    break
                }
                // Done once datagrams stopped for 0.5 s, or at the limit.
                if (count > 0 && now - last > 500_000_000) || now > giveUp { break }
            }
        }
        let elapsed = Double(last > first ? last - first : 1) / 1e9
        print("{\"role\":\"recv\",\"datagrams\":\(count),\"seconds\":\(elapsed),\"per_s\":\(count > 1 ? Double(count) / elapsed : 0),\"rcvbuf_granted\":\(granted)}")
    }
}
