import ArgumentParser
import Foundation
import PaxosCommandLine
import PaxosNode

#if canImport(Glibc)
import Glibc
#endif

/// `paxos-bench probe recv|send`: a tiny IPv4 multicast plumbing check, independent of paxos (used by
/// scripts/multihost-test.sh before it starts a cluster across namespaces).
///
///   probe recv IFADDR GROUP PORT TIMEOUT [TAG...]: joins GROUP on the interface IFADDR, listens on PORT,
///     prints "READY" once joined, then "TAG SIZE" for each distinct (tag, size) received. Exits 0 as
///     soon as every TAG was seen, else after TIMEOUT seconds with status 1 (0 when no TAG was given).
///   probe send IFADDR GROUP PORT TAG SIZE [COUNT]: COUNT (default 3) datagrams of SIZE bytes starting
///     with "TAG\n", 50 ms apart, from IFADDR (TTL 1, loop on). Send errors are printed and ignored.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe", abstract: "Multicast plumbing check: recv IFADDR GROUP PORT TIMEOUT [TAG...] | send IFADDR GROUP PORT TAG SIZE [COUNT].")

    enum Mode: String, ExpressibleByArgument { case send, recv }
    @Argument var mode: Mode
    @Argument var interface: String
    @Argument var group: String
    @Argument var port: UInt16
    @Argument(help: "recv: TIMEOUT [TAG...]; send: TAG SIZE [COUNT]") var rest: [String] = []

    func run() throws {
        var status: Int32 = 0
        try guarded(tool: tool) {
            var groupAddr = in_addr(), ifAddr = in_addr()
            guard inet_pton(AF_INET, group, &groupAddr) == 1 else { throw StartupError("bad group \(group)") }
            guard inet_pton(AF_INET, interface, &ifAddr) == 1 else { throw StartupError("bad interface address \(interface)") }
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw StartupError("socket: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr = groupAddr
            switch mode {
            case .recv:
                guard let timeout = rest.first.flatMap(Double.init) else { throw StartupError("recv needs TIMEOUT [TAG...]") }
                status = try receive(fd, addr, groupAddr, ifAddr, timeout: timeout, tags: Set(rest.dropFirst()))
            case .send:
                guard rest.count == 2 || rest.count == 3, let size = Int(rest[1]), let count = rest.count == 3 ? Int(rest[2]) : 3 else {
                    throw StartupError("send needs TAG SIZE [COUNT]")
                }
                try send(fd, addr, ifAddr, tag: rest[0], size: size, count: count)
            }
        }
        if status != 0 { throw ExitCode(status) }
    }

    func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    func receive(_ fd: Int32, _ bindTo: sockaddr_in, _ group: in_addr, _ ifAddr: in_addr, timeout: Double, tags: Set<String>) throws -> Int32 {
        var one: Int32 = 1, zero: Int32 = 0
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        var addr = bindTo
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw StartupError("bind: \(String(cString: strerror(errno)))") }
        var mreq = ip_mreq(imr_multiaddr: group, imr_interface: ifAddr)
        guard setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &mreq, socklen_t(MemoryLayout<ip_mreq>.size)) == 0 else {
            throw StartupError("IP_ADD_MEMBERSHIP: \(String(cString: strerror(errno)))")
        }
        _ = setsockopt(fd, Int32(IPPROTO_IP), 49 /* IP_MULTICAST_ALL: only groups this socket joined */, &zero, 4)
        say("READY")
        var seen: Set<String> = [], seenTags: Set<String> = []
        let deadline = monotonicNanoseconds() + UInt64(timeout * 1e9)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while !(tags.isSubset(of: seenTags) && !tags.isEmpty) {
            let now = monotonicNanoseconds()
            guard now < deadline else { break }
            let left = deadline - now
            var tv = timeval(tv_sec: Int(left / 1_000_000_000), tv_usec: Int(left % 1_000_000_000 / 1000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { if errno == EINTR { continue } else { break } }
            let tag = String(decoding: buffer[0..<n].prefix { $0 != 0x0A }, as: UTF8.self)
            if seen.insert("\(tag) \(n)").inserted {
                seenTags.insert(tag)
                say("\(tag) \(n)")
            }
        }
        return tags.isSubset(of: seenTags) ? 0 : 1
    }

    func send(_ fd: Int32, _ to: sockaddr_in, _ ifAddr: in_addr, tag: String, size: Int, count: Int) throws {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr = ifAddr
        _ = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var ifa = ifAddr
        var ttl: UInt8 = 1, loop: UInt8 = 1
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &ifa, socklen_t(MemoryLayout<in_addr>.size))
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, 1)
        setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, 1)
        var payload = Array((tag + "\n").utf8)
        payload += [UInt8](repeating: 0x78, count: max(0, size - payload.count))
        var dest = to
        for i in 0..<count {
            let n = payload.withUnsafeBytes { p in
                withUnsafePointer(to: &dest) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, p.baseAddress, p.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                } }
            }
            if n < 0 { say("send error: \(String(cString: strerror(errno)))") }
            if i + 1 < count { usleep(50_000) }
        }
    }
}
