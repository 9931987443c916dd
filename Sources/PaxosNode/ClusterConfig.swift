import PaxosCore
import PaxosStore

/// The cluster configuration file: the course's four lines `<role> <ip> <port>`, then optional
/// `<setting> <value>` lines. Whitespace between fields may be any run of spaces and tabs; blank lines and
/// `#` comments are ignored. Parsing is pure: ``NodeStartup`` reads the file.
public struct ClusterConfig: Hashable, Sendable {
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var address: String
        public var port: Int
        public var description: String { "\(address):\(port)" }
    }

    public var endpoints: [Group: Endpoint]
    /// The interface address multicast is sent and joined on. Loopback by default: nothing leaves the host.
    public var interface = "127.0.0.1"
    public var ttl = 1
    /// The state folder; relative paths are resolved against the config file's folder.
    public var stateDirectory: String?
    /// Milliseconds per protocol tick.
    public var tickMilliseconds = 10
    /// SQLite's synchronous level for acceptors' and learners' databases.
    public var synchronous = Synchronous.full
    /// A shared secret: every datagram then carries an HMAC-SHA256 tag under it, and datagrams without a
    /// valid tag are rejected. The environment variable PAXOS_KEY, when set, takes precedence.
    public var key: String?
    /// The longest value (line) a client submits; a longer line stops the client before it is sent. Not
    /// part of the cluster's fingerprint: every process reassembles messages up to ``Wire/maxMessageBytes``
    /// whatever its own setting, so a learner configured lower still learns what a client allowed.
    public var maxValueBytes = 1 << 20
    public var settings = ProtocolSettings()

    public func endpoint(_ group: Group) -> Endpoint { endpoints[group]! }

    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var line: Int?
        public var message: String
        public var description: String { line.map { "line \($0): \(message)" } ?? message }
    }

    /// Every optional setting: its name, and a one-line description for `--help` and the README.
    public static let settingNames: [(name: String, meaning: String)] = [
        ("interface", "IPv4 address of the interface to send and join multicast on (default 127.0.0.1)"),
        ("ttl", "multicast TTL, 0-255 (default 1)"),
        ("acceptor-count", "acceptors in the cluster; a quorum is a majority of it, 1-64 (default 3)"),
        ("state-dir", "folder of the SQLite files, relative to the config file (default paxos-state)"),
        ("tick-ms", "milliseconds per protocol tick, 1-1000 (default 10)"),
        ("synchronous", "SQLite synchronous level: full, normal or off (default full)"),
        ("key", "shared secret, at least 16 characters: datagrams carry an HMAC-SHA256 tag (default: none)"),
        ("learner-count", "learners in the cluster; acceptors forget an instance once all of them delivered it, 0 never (default 2)"),
        ("window", "instances a leader keeps in flight, 1-100000 (default 256)"),
        ("batch-bytes", "largest batch of values in one instance, 64-60000 bytes (default 8000)"),
        ("datagram-bytes", "largest datagram sent, 512-65000 bytes (default 60000)"),
        ("client-window", "values a client keeps outstanding, 1-1000000 (default 2048)"),
        ("retry-ticks", "ticks at most before a leader re-sends an undecided instance, sooner by its round-trip estimate (default 20)"),
        ("client-retry-ticks", "ticks at most before a client resubmits an undecided value, sooner by its round-trip estimate (default 50)"),
        ("leader-timeout-ticks", "ticks of silence before a standby proposer takes over (default 50)"),
        ("max-value-bytes", "longest value (line) a client submits, 1-16777216 bytes (default 1048576)"),
    ]

    public static func parse(_ text: String) throws(ParseError) -> ClusterConfig {
        var endpoints: [Group: Endpoint] = [:]
        var config = ClusterConfig(endpoints: [:])
        var seen: Set<String> = []
        // Split on any newline: Swift reads "\r\n" as ONE Character, so splitting on "\n" alone made a
        // file saved with Windows line endings one long line.
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let key = fields.first else { continue }
            guard seen.insert(key).inserted else {
                throw ParseError(line: lineNumber, message: "'\(key)' is set twice")
            }
            if let group = Group.allCases.first(where: { $0.description == key }) {
                guard fields.count == 3 else {
                    throw ParseError(line: lineNumber, message: "expected '\(key) <multicast address> <port>'")
                }
                guard isMulticastIPv4(fields[1]) else {
                    throw ParseError(line: lineNumber, message: "'\(fields[1])' is not an IPv4 multicast address (224.0.0.0-239.255.255.255)")
                }
                guard let port = Int(fields[2]), (1...65_535).contains(port) else {
                    throw ParseError(line: lineNumber, message: "'\(fields[2])' is not a port (1-65535)")
                }
                endpoints[group] = Endpoint(address: fields[1], port: port)
                continue
            }
            guard fields.count == 2 else {
                if settingNames.contains(where: { $0.name == key }) {
                    throw ParseError(line: lineNumber, message: "expected '\(key) <value>'")
                }
                throw ParseError(line: lineNumber, message: "unknown setting '\(key)'")
            }
            try config.apply(key: key, value: fields[1], line: lineNumber)
        }
        for group in Group.allCases where endpoints[group] == nil {
            throw ParseError(line: nil, message: "missing line '\(group) <multicast address> <port>'")
        }
        config.endpoints = endpoints
        return config
    }

    private mutating func apply(key: String, value: String, line: Int) throws(ParseError) {
        func int(_ range: ClosedRange<Int>) throws(ParseError) -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ParseError(line: line, message: "'\(key)' must be a whole number in \(range.lowerBound)-\(range.upperBound), not '\(value)'")
            }
            return n
        }
        switch key {
        case "interface":
            guard Self.isIPv4(value) else { throw ParseError(line: line, message: "'\(value)' is not an IPv4 address") }
            interface = value
        case "ttl": ttl = try int(0...255)
        case "acceptor-count": settings.acceptorCount = try int(1...64)
        case "state-dir": stateDirectory = value
        case "tick-ms": tickMilliseconds = try int(1...1_000)
        case "synchronous":
            guard let s = Synchronous(rawValue: value) else {
                throw ParseError(line: line, message: "'synchronous' must be full, normal or off, not '\(value)'")
            }
            synchronous = s
        case "key":
            guard value.utf8.count >= 16 else {
                throw ParseError(line: line, message: "'key' must be at least 16 characters")
            }
            self.key = value
        case "learner-count": settings.learnerCount = try int(0...1_000_000)
        case "window": settings.window = try int(1...100_000)
        case "batch-bytes": settings.maxBatchBytes = try int(64...60_000)
        case "datagram-bytes": settings.maxDatagramBytes = try int(512...65_000)
        case "client-window": settings.clientWindow = try int(1...1_000_000)
        case "flow-lead": settings.flowLead = try int(0...1_000_000)
        case "retry-ticks": settings.acceptRetryTicks = UInt64(try int(1...100_000))
        case "client-retry-ticks": settings.clientRetryTicks = UInt64(try int(1...100_000))
        case "leader-timeout-ticks": settings.leaderTimeoutTicks = UInt64(try int(2...100_000))
        case "max-value-bytes": maxValueBytes = try int(1...Wire.maxValueBytesLimit)
        default:
            throw ParseError(line: line, message: "unknown setting '\(key)'")
        }
    }

    static func ipv4Octets(_ s: String) -> [Int]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [Int] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(p), (0...255).contains(n) else { return nil }
            octets.append(n)
        }
        return octets
    }

    public static func isIPv4(_ s: String) -> Bool { ipv4Octets(s) != nil }

    public static func isMulticastIPv4(_ s: String) -> Bool {
        guard let o = ipv4Octets(s) else { return false }
        return (224...239).contains(o[0])
    }
}
