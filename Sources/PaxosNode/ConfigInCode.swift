#if canImport(Glibc)
import Glibc
#endif
import PaxosCore

extension ClusterConfig {
    /// A configuration built in code: the four groups' endpoints and the defaults of every optional setting
    /// (change them on the value: `interface`, `tickMilliseconds`, `settings.acceptorCount`...).
    public init(groups endpoints: [Group: (address: String, port: Int)]) throws(ParseError) {
        self.init(endpoints: [:])
        for group in Group.allCases {
            guard let e = endpoints[group] else {
                throw ParseError(line: nil, message: "missing the endpoint of the \(group)")
            }
            guard Self.isMulticastIPv4(e.address) else {
                throw ParseError(line: nil, message: "'\(e.address)' is not an IPv4 multicast address (224.0.0.0-239.255.255.255)")
            }
            guard (1...65_535).contains(e.port) else { throw ParseError(line: nil, message: "'\(e.port)' is not a port (1-65535)") }
            self.endpoints[group] = Endpoint(address: e.address, port: e.port)
        }
    }

    /// A cluster private to this host: a random group in 239.0.0.0/8 and four consecutive UDP ports that no
    /// socket holds now, on loopback (TTL 1: nothing leaves the host). Two such clusters (two tests, two test
    /// runs) never hear each other. For tests, demos and examples.
    public static func privateLoopback() throws(ParseError) -> ClusterConfig {
        var rng = SystemRandomNumberGenerator()
        let group = "239.\(Int.random(in: 1...254, using: &rng)).\(Int.random(in: 0...255, using: &rng)).\(Int.random(in: 1...254, using: &rng))"
        for _ in 0..<50 {
            let base = Int.random(in: 20_000...59_990, using: &rng)
            let ports = Array(base..<(base + 4))
            guard ports.allSatisfy(isFreeUDPPort) else { continue }
            var endpoints: [Group: (address: String, port: Int)] = [:]
            for (group_, port) in zip(Group.allCases, ports) { endpoints[group_] = (group, port) }
            return try ClusterConfig(groups: endpoints)
        }
        throw ParseError(line: nil, message: "no four free UDP ports found")
    }

    /// Whether a UDP socket without SO_REUSEADDR can bind the port on every address (none holds it).
    public static func isFreeUDPPort(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
