import PaxosCore
@testable import PaxosNode
import PaxosStore
import Testing

/// `ClusterConfig.parse`: what the config file may say, and the exact line that refuses what it may not.
@Suite struct ClusterConfigTests {
    static let roles = "clients   239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners  239.0.0.1 8000\n"

    @Test func courseFileWithDefaults() throws {
        let config = try ClusterConfig.parse(Self.roles)
        #expect(config.endpoint(.clients) == .init(address: "239.0.0.1", port: 5000))
        #expect(config.endpoint(.learners) == .init(address: "239.0.0.1", port: 8000))
        #expect(config.interface == "127.0.0.1")
        #expect(config.ttl == 1)
        #expect(config.synchronous == .full)
        #expect(config.settings == ProtocolSettings())
        #expect(config.stateFolder(configPath: "/srv/x/paxos.conf") == "/srv/x/paxos-state")
        #expect(config.stateFolder(configPath: "paxos.conf") == "./paxos-state")
    }

    @Test func settingsCommentsTabsAndCRLF() throws {
        let text = "# a cluster\r\n\tclients\t239.1.2.3  5001\r\nproposers 239.0.0.1 6000 # the proposers\n\n"
            + "acceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\nacceptor-count 5\nttl 0\nsynchronous off\n"
            + "interface 10.1.2.3\nstate-dir ../state\nkey 0123456789abcdef\nwindow 9\nleader-timeout-ticks 2\n"
            + "max-value-bytes 16777216\n"
        let config = try ClusterConfig.parse(text)
        #expect(config.maxValueBytes == 16 << 20)
        #expect(try ClusterConfig.parse(Self.roles).maxValueBytes == 1_048_576)
        #expect(config.endpoint(.clients) == .init(address: "239.1.2.3", port: 5001))
        #expect(config.settings.acceptorCount == 5)
        #expect(config.settings.window == 9)
        #expect(config.settings.leaderTimeoutTicks == 2)
        #expect(config.ttl == 0)
        #expect(config.synchronous == .off)
        #expect(config.interface == "10.1.2.3")
        #expect(config.key == "0123456789abcdef")
        #expect(config.stateFolder(configPath: "/srv/x/paxos.conf") == "/srv/x/../state")
    }

    /// Each refusal of the former scripts/bad-input-test.sh's config cases, with its exact message.
    @Test(arguments: [
        ("empty", "", "missing line 'clients <multicast address> <port>'"),
        // Written <ESC>, <BEL>, <SOH> here so that the test's own report stays plain text (see `controls`).
        ("control characters", roles + "<ESC>[31mcolour<BEL><SOH> 1\n", "line 5: unknown setting '<ESC>[31mcolour<BEL><SOH>'"),
        ("two fields", "clients 239.0.0.1 5000\nproposers 239.0.0.1\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n",
         "line 2: expected 'proposers <multicast address> <port>'"),
        ("four fields", "clients 239.0.0.1 5000 9\n", "line 1: expected 'clients <multicast address> <port>'"),
        ("unknown setting", roles + "acceptor-cuont 3\n", "line 5: unknown setting 'acceptor-cuont'"),
        ("unknown setting, three fields", roles + "colour red blue\n", "line 5: unknown setting 'colour'"),
        ("not multicast", "clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 10.0.0.1 7000\n",
         "line 3: '10.0.0.1' is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"),
        ("bad address", "clients 239.0.0 5000\n", "line 1: '239.0.0' is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"),
        ("address with sign", "clients 239.0.0.+1 5000\n", "line 1: '239.0.0.+1' is not an IPv4 multicast address (224.0.0.0-239.255.255.255)"),
        ("port 0", "clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 0\n",
         "line 4: '0' is not a port (1-65535)"),
        ("port 70000", "clients 239.0.0.1 70000\n", "line 1: '70000' is not a port (1-65535)"),
        ("port abc", "clients 239.0.0.1 5000\nproposers 239.0.0.1 abc\n", "line 2: 'abc' is not a port (1-65535)"),
        ("missing role", "clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\n",
         "missing line 'learners <multicast address> <port>'"),
        ("duplicate line", roles + "acceptors 239.0.0.2 7001\n", "line 5: 'acceptors' is set twice"),
        ("duplicate setting", roles + "ttl 1\nttl 2\n", "line 6: 'ttl' is set twice"),
        ("acceptor-count 0", roles + "acceptor-count 0\n", "line 5: 'acceptor-count' must be a whole number in 1-64, not '0'"),
        ("acceptor-count 65", roles + "acceptor-count 65\n", "line 5: 'acceptor-count' must be a whole number in 1-64, not '65'"),
        ("ttl 300", roles + "ttl 300\n", "line 5: 'ttl' must be a whole number in 0-255, not '300'"),
        ("tick-ms 0", roles + "tick-ms 0\n", "line 5: 'tick-ms' must be a whole number in 1-1000, not '0'"),
        ("leader-timeout-ticks 1", roles + "leader-timeout-ticks 1\n",
         "line 5: 'leader-timeout-ticks' must be a whole number in 2-100000, not '1'"),
        ("max-value-bytes 0", roles + "max-value-bytes 0\n", "line 5: 'max-value-bytes' must be a whole number in 1-16777216, not '0'"),
        ("max-value-bytes over 16 MiB", roles + "max-value-bytes 16777217\n",
         "line 5: 'max-value-bytes' must be a whole number in 1-16777216, not '16777217'"),
        ("max-value-bytes 1M", roles + "max-value-bytes 1M\n", "line 5: 'max-value-bytes' must be a whole number in 1-16777216, not '1M'"),
        ("synchronous maybe", roles + "synchronous maybe\n", "line 5: 'synchronous' must be full, normal or off, not 'maybe'"),
        ("interface bad", roles + "interface 300.1.1.1\n", "line 5: '300.1.1.1' is not an IPv4 address"),
        ("key short", roles + "key 123456789012345\n", "line 5: 'key' must be at least 16 characters"),
        ("setting without value", roles + "window\n", "line 5: expected 'window <value>'"),
        ("setting with two values", roles + "window 1 2\n", "line 5: expected 'window <value>'"),
    ])
    func refusal(name: String, text: String, message: String) {
        let error = #expect(throws: ClusterConfig.ParseError.self, "\(name)") { try ClusterConfig.parse(Self.controls(text)) }
        #expect(error?.description == Self.controls(message), "\(name)")
    }

    /// The control characters a case names by <ESC>, <BEL> and <SOH>.
    static func controls(_ text: String) -> String {
        text.replacingOccurrences(of: "<ESC>", with: "\u{1B}").replacingOccurrences(of: "<BEL>", with: "\u{07}")
            .replacingOccurrences(of: "<SOH>", with: "\u{01}")
    }

    @Test func addressChecks() {
        #expect(ClusterConfig.isMulticastIPv4("224.0.0.0"))
        #expect(ClusterConfig.isMulticastIPv4("239.255.255.255"))
        #expect(!ClusterConfig.isMulticastIPv4("240.0.0.1"))
        #expect(!ClusterConfig.isMulticastIPv4("223.255.255.255"))
        #expect(ClusterConfig.isIPv4("0.0.0.0"))
        #expect(!ClusterConfig.isIPv4("1.2.3.4.5"))
        #expect(!ClusterConfig.isIPv4("1..3.4"))
        #expect(!ClusterConfig.isIPv4("0001.2.3.4"))
        #expect(!ClusterConfig.isIPv4("١.2.3.4"))  // an Arabic-Indic digit is a number, not ASCII
    }
}
