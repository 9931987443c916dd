import NIOCore

/// An IPv4 multicast group and UDP port, e.g. `239.0.0.1:5000`.
public struct MulticastEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// Dotted-quad IPv4 multicast address (224.0.0.0/4), e.g. `"239.0.0.1"`.
    public var group: String
    /// UDP port, 1...65535.
    public var port: Int

    public init(group: String, port: Int) {
        self.group = group
        self.port = port
    }

    public var description: String { "\(self.group):\(self.port)" }
}

/// Socket settings shared by every channel of one `MulticastTransport`.
public struct TransportSettings: Sendable {
    /// IPv4 address of the local interface used both to join groups and as IP_MULTICAST_IF for sending.
    /// The default keeps all multicast on the loopback interface: nothing leaves the machine.
    public var interface: String = "127.0.0.1"
    /// IP_MULTICAST_TTL, 0...255. 1 = never routed past the first hop.
    public var ttl: Int = 1
    /// SO_RCVBUF asked for on each receiving socket (the kernel caps it at net.core.rmem_max).
    public var receiveBufferBytes: Int = 8 << 20
    /// SO_SNDBUF asked for on the sending socket (the kernel caps it at net.core.wmem_max).
    public var sendBufferBytes: Int = 4 << 20
    /// Largest datagram sent or accepted, 1...65507. Larger sends are refused (counted in `sendErrors`);
    /// larger received datagrams are dropped (counted in `receiveOversize`).
    public var maxDatagramBytes: Int = 65_507
    /// Reads per readiness event before `onBurstEnd` (NIO's `maxMessagesPerRead`), 1...4096.
    public var maxMessagesPerRead: Int = 64
    /// Datagrams per `recvmmsg` call on Linux (NIO's `datagramVectorReadMessageCount`); 0 = plain `recvmsg`.
    /// Each receiving channel then reads into one buffer of `count × (maxDatagramBytes + 1)` bytes.
    public var vectorReadMessageCount: Int = 0
    /// Bytes queued in user space for the sending socket before further sends are dropped
    /// (counted in `sendErrors`) instead of growing memory without bound.
    public var maxPendingSendBytes: Int = 16 << 20
    /// Delay before a channel that closed on its own (a fatal socket error) is opened again.
    public var reopenDelay: TimeAmount = .milliseconds(200)

    public init(
        interface: String = "127.0.0.1",
        ttl: Int = 1,
        receiveBufferBytes: Int = 8 << 20,
        sendBufferBytes: Int = 4 << 20,
        maxDatagramBytes: Int = 65_507,
        maxMessagesPerRead: Int = 64,
        vectorReadMessageCount: Int = 0,
        maxPendingSendBytes: Int = 16 << 20,
        reopenDelay: TimeAmount = .milliseconds(200)
    ) {
        self.interface = interface
        self.ttl = ttl
        self.receiveBufferBytes = receiveBufferBytes
        self.sendBufferBytes = sendBufferBytes
        self.maxDatagramBytes = maxDatagramBytes
        self.maxMessagesPerRead = maxMessagesPerRead
        self.vectorReadMessageCount = vectorReadMessageCount
        self.maxPendingSendBytes = maxPendingSendBytes
        self.reopenDelay = reopenDelay
    }
}

/// Why a transport could not start, or why a datagram was not sent. `description` is one line.
public struct TransportError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// `settings.interface` is not an IPv4 address of a local interface.
        case invalidInterface
        /// An endpoint's group is not an IPv4 multicast address, or its port is out of range.
        case invalidEndpoint
        /// A numeric setting is out of range.
        case invalidSettings
        /// A datagram is larger than `maxDatagramBytes`.
        case datagramTooLarge
        /// The sending channel is down (being reopened) or closed.
        case notOpen
        /// More than `maxPendingSendBytes` are already queued for sending.
        case sendQueueFull
        /// A socket call (bind, setsockopt, join) failed.
        case socket
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { self.message }
}
