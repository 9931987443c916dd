import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// IPv4 multicast datagrams over SwiftNIO: one receiving channel per listened endpoint, one sending channel.
///
/// Threading: everything happens on `eventLoop`. `onDatagram` and `onBurstEnd` are called on it, and
/// `send`, `flush` and the counters may only be used on it. `close()` may be called from anywhere.
///
/// Receiving: each endpoint's socket is bound to `group:port` with SO_REUSEADDR (so several transports and
/// processes on one host can listen to the same endpoint, and each gets every datagram) and joins the group on
/// `settings.interface`. `onDatagram(endpoint, bytes)` is called for each datagram as it is read; `onBurstEnd()`
/// once after each read burst (at most `maxMessagesPerRead` reads), so the caller can persist once per burst and
/// then send. The `ByteBuffer` handed to `onDatagram` is a slice of a pooled receive buffer: decode or copy it,
/// and don't keep it, or each kept datagram pins a whole receive buffer.
///
/// Sending: one socket bound to `interface:0` with IP_MULTICAST_IF = the interface address, IP_MULTICAST_LOOP = 1
/// and IP_MULTICAST_TTL = `settings.ttl`. `send` only queues; queued datagrams go out on `flush()`, or at the latest
/// when the event loop finishes its current round of I/O (a flush is scheduled by the first unflushed send), so
/// everything sent during a burst leaves in one `sendmmsg`. Failures never throw and never crash: they are
/// counted in `sendErrors`, and the last one is kept in `lastSendError` for the caller to log.
///
/// A channel that the kernel closes under us (a fatal socket error) is reopened after `settings.reopenDelay`;
/// each such event is counted in `channelFailures`.
public final class MulticastTransport: @unchecked Sendable {
    public let eventLoop: any EventLoop
    public let settings: TransportSettings
    /// The endpoints listened to (duplicates removed, order kept).
    public let endpoints: [MulticastEndpoint]

    /// Datagrams that were not handed to the kernel, or that the kernel refused.
    public private(set) var sendErrors: Int = 0
    /// The most recent send failure, for the caller to log.
    public private(set) var lastSendError: (any Error)? = nil
    /// Errors reported by receiving channels (non-fatal read errors and failures that closed a channel).
    public private(set) var receiveErrors: Int = 0
    /// Received datagrams longer than `settings.maxDatagramBytes`, dropped.
    public private(set) var receiveOversize: Int = 0
    /// Channels that closed on their own and were (or are being) reopened.
    public private(set) var channelFailures: Int = 0
    /// SO_RCVBUF as granted by the kernel on the receiving sockets (Linux reports twice the usable size), 0 if none.
    public private(set) var effectiveReceiveBufferBytes: Int = 0
    /// SO_SNDBUF as granted by the kernel on the sending socket.
    public private(set) var effectiveSendBufferBytes: Int = 0

    private let onDatagram: (MulticastEndpoint, ByteBuffer) -> Void
    private let onBurstEnd: () -> Void
    private let interfaceAddress: in_addr
    private var groupAddresses: [MulticastEndpoint: SocketAddress]

    // Event-loop confined state.
    var sendChannel: (any Channel)? = nil
    var receiveChannels: [MulticastEndpoint: any Channel] = [:]
    private var flushScheduled = false
    private var closing = false
    private var closeFuture: EventLoopFuture<Void>? = nil
    private var reopenTasks: [Scheduled<Void>] = []

    private init(
        eventLoop: any EventLoop,
        settings: TransportSettings,
        endpoints: [MulticastEndpoint],
        groupAddresses: [MulticastEndpoint: SocketAddress],
        interfaceAddress: in_addr,
        onDatagram: @escaping (MulticastEndpoint, ByteBuffer) -> Void,
        onBurstEnd: @escaping () -> Void
    ) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.endpoints = endpoints
        self.groupAddresses = groupAddresses
        self.interfaceAddress = interfaceAddress
        self.onDatagram = onDatagram
        self.onBurstEnd = onBurstEnd
    }

    // MARK: - Start

    /// Validates the settings and endpoints, opens the sending channel and one receiving channel per endpoint.
    /// Fails with a `TransportError` on a bad interface, endpoint or setting, or a socket call that fails.
    /// The callbacks are only ever called on `eventLoop`.
    public static func start(
        on eventLoop: any EventLoop,
        listen endpoints: [MulticastEndpoint],
        settings: TransportSettings = TransportSettings(),
        onDatagram: @escaping (MulticastEndpoint, ByteBuffer) -> Void,
        onBurstEnd: @escaping () -> Void
    ) -> EventLoopFuture<MulticastTransport> {
        let transport: MulticastTransport
        do {
            try Self.validate(settings)
            let interfaceAddress = try Self.resolveInterface(settings.interface)
            var unique: [MulticastEndpoint] = []
            var addresses: [MulticastEndpoint: SocketAddress] = [:]
            for endpoint in endpoints where addresses[endpoint] == nil {
                addresses[endpoint] = try Self.resolveGroup(endpoint)
                unique.append(endpoint)
            }
            transport = MulticastTransport(
                eventLoop: eventLoop,
                settings: settings,
                endpoints: unique,
                groupAddresses: addresses,
                interfaceAddress: interfaceAddress,
                onDatagram: onDatagram,
                onBurstEnd: onBurstEnd
            )
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        return eventLoop.flatSubmit { transport.openAll() }.map { transport }
    }

    private func openAll() -> EventLoopFuture<Void> {
        self.eventLoop.assertInEventLoop()
        var opening: [EventLoopFuture<any Channel>] = [self.openSendChannel()]
        for endpoint in self.endpoints {
            opening.append(self.openReceiveChannel(endpoint))
        }
        return EventLoopFuture.whenAllComplete(opening, on: self.eventLoop).flatMap { results in
            var firstError: (any Error)? = nil
            for (index, result) in results.enumerated() {
                switch result {
                case .success(let channel):
                    if index == 0 {
                        self.adoptSendChannel(channel)
                    } else {
                        self.adoptReceiveChannel(channel, for: self.endpoints[index - 1])
                    }
                case .failure(let error):
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError {
                return self.close().flatMapThrowing { throw firstError }
            }
            return self.eventLoop.makeSucceededVoidFuture()
        }
    }

    // MARK: - Sending

    /// Queues one datagram for `endpoint`. Only on the event loop. Never throws: failures go to `sendErrors`.
    public func send(_ bytes: [UInt8], to endpoint: MulticastEndpoint) {
        self.eventLoop.preconditionInEventLoop()
        guard let channel = self.readySendChannel(count: bytes.count) else { return }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        self.enqueue(buffer, to: endpoint, on: channel)
    }

    /// Queues one datagram (the buffer's readable bytes) for `endpoint`. Only on the event loop.
    public func send(_ buffer: ByteBuffer, to endpoint: MulticastEndpoint) {
        self.eventLoop.preconditionInEventLoop()
        guard let channel = self.readySendChannel(count: buffer.readableBytes) else { return }
        self.enqueue(buffer, to: endpoint, on: channel)
    }

    /// Hands every queued datagram to the kernel now. Only on the event loop.
    public func flush() {
        self.eventLoop.preconditionInEventLoop()
        self.flushScheduled = false
        self.sendChannel?.flush()
    }

    private func readySendChannel(count: Int) -> (any Channel)? {
        guard count <= self.settings.maxDatagramBytes else {
            self.sendFailed(
                TransportError(
                    .datagramTooLarge,
                    "datagram of \(count) bytes exceeds maxDatagramBytes \(self.settings.maxDatagramBytes)"
                )
            )
            return nil
        }
        guard let channel = self.sendChannel, !self.closing else {
            self.sendFailed(TransportError(.notOpen, "sending channel is not open"))
            return nil
        }
        guard channel.isWritable else {
            self.sendFailed(
                TransportError(
                    .sendQueueFull,
                    "more than \(self.settings.maxPendingSendBytes) bytes queued for sending"
                )
            )
            return nil
        }
        return channel
    }

    private func enqueue(_ buffer: ByteBuffer, to endpoint: MulticastEndpoint, on channel: any Channel) {
        let address: SocketAddress
        if let known = self.groupAddresses[endpoint] {
            address = known
        } else {
            do {
                address = try Self.resolveGroup(endpoint)
                self.groupAddresses[endpoint] = address
            } catch {
                self.sendFailed(error)
                return
            }
        }
        let promise = self.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenFailure { error in self.sendFailed(error) }
        channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: promise)
        if !self.flushScheduled {
            self.flushScheduled = true
            self.eventLoop.execute { if self.flushScheduled { self.flush() } }
        }
    }

    private func sendFailed(_ error: any Error) {
        self.sendErrors += 1
        self.lastSendError = error
    }

    // MARK: - Receiving (called by ReceiveHandler on the event loop)

    fileprivate func received(_ buffer: ByteBuffer, on endpoint: MulticastEndpoint) {
        if buffer.readableBytes > self.settings.maxDatagramBytes {
            self.receiveOversize += 1
            return
        }
        self.onDatagram(endpoint, buffer)
    }

    fileprivate func burstEnded() {
        self.onBurstEnd()
    }

    fileprivate func receiveFailed(_ error: any Error) {
        self.receiveErrors += 1
    }

    // MARK: - Closing

    /// Closes every channel; later sends count as errors. Idempotent; callable from any thread.
    public func close() -> EventLoopFuture<Void> {
        self.eventLoop.flatSubmit {
            if let closeFuture = self.closeFuture { return closeFuture }
            self.closing = true
            for task in self.reopenTasks { task.cancel() }
            self.reopenTasks = []
            var channels: [any Channel] = Array(self.receiveChannels.values)
            if let sendChannel = self.sendChannel { channels.append(sendChannel) }
            self.receiveChannels = [:]
            self.sendChannel = nil
            let closed = EventLoopFuture.whenAllComplete(
                channels.map { $0.close() },
                on: self.eventLoop
            ).map { _ in }
            self.closeFuture = closed
            return closed
        }
    }

    // MARK: - Channels

    private func openSendChannel() -> EventLoopFuture<any Channel> {
        let settings = self.settings
        let interface = settings.interface
        let interfaceAddress = self.interfaceAddress
        let bootstrap = DatagramBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.so_sndbuf), value: Self.clampedOptionValue(settings.sendBufferBytes))
            .channelOption(.autoRead, value: false)
            .channelOption(
                .writeBufferWaterMark,
                value: .init(low: settings.maxPendingSendBytes / 2, high: settings.maxPendingSendBytes)
            )
        return bootstrap.bind(host: interface, port: 0)
            .flatMapErrorThrowing { error in
                throw TransportError(.socket, "cannot bind sending socket to \(interface):0: \(error)")
            }
            .flatMap { channel in
                let provider = channel as! any SocketOptionProvider
                return provider.setIPMulticastIF(interfaceAddress)
                    .flatMap { provider.setIPMulticastLoop(1) }
                    .flatMap { provider.setIPMulticastTTL(CUnsignedChar(settings.ttl)) }
                    .flatMapErrorThrowing { error in
                        throw TransportError(
                            .socket,
                            "cannot set IP_MULTICAST_IF/LOOP/TTL on sending socket (\(interface)): \(error)"
                        )
                    }
                    .flatMap { channel.getOption(.socketOption(.so_sndbuf)) }
                    .map { granted -> any Channel in
                        self.effectiveSendBufferBytes = Int(granted)
                        return channel
                    }
                    .flatMapError { error in
                        channel.close().flatMapThrowing { throw error }
                    }
            }
    }

    private func openReceiveChannel(_ endpoint: MulticastEndpoint) -> EventLoopFuture<any Channel> {
        let settings = self.settings
        let slot = settings.maxDatagramBytes + 1  // one spare byte detects oversize datagrams
        let messagesPerRecv = max(1, settings.vectorReadMessageCount)
        var bootstrap = DatagramBootstrap(group: self.eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: Self.clampedOptionValue(settings.receiveBufferBytes))
            .channelOption(.maxMessagesPerRead, value: UInt(settings.maxMessagesPerRead))
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: slot * messagesPerRecv))
        if settings.vectorReadMessageCount > 0 {
            bootstrap = bootstrap.channelOption(.datagramVectorReadMessageCount, value: settings.vectorReadMessageCount)
        }
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ReceiveHandler(transport: self, endpoint: endpoint))
            }
        }
        let membership = ip_mreq(imr_multiaddr: Self.inAddr(self.groupAddresses[endpoint]!), imr_interface: self.interfaceAddress)
        let interface = settings.interface
        return bootstrap.bind(host: endpoint.group, port: endpoint.port)
            .flatMapErrorThrowing { error in
                throw TransportError(.socket, "cannot bind receiving socket to \(endpoint): \(error)")
            }
            .flatMap { channel in
                let provider = channel as! any SocketOptionProvider
                #if os(Linux)
                // IP_MULTICAST_ALL = 0: only datagrams for groups this very socket joined (Linux default is all
                // groups joined by any socket on the host). Best effort: the bound group address filters anyway.
                let onlyJoinedGroups = provider.unsafeSetSocketOption(
                    level: .ip,
                    name: NIOBSDSocket.Option(rawValue: 49),
                    value: CInt(0)
                ).recover { _ in }
                #else
                let onlyJoinedGroups = channel.eventLoop.makeSucceededVoidFuture()
                #endif
                // The join is done with setsockopt rather than `MulticastChannel.joinGroup(_:device:)`: NIO refuses
                // devices without IFF_MULTICAST, and Linux's `lo` has no such flag, yet multicast on it works.
                return onlyJoinedGroups
                    .flatMap {
                        provider.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: membership)
                    }
                    .flatMapErrorThrowing { error in
                        throw TransportError(.socket, "cannot join \(endpoint.group) on interface \(interface): \(error)")
                    }
                    .flatMap { channel.getOption(.socketOption(.so_rcvbuf)) }
                    .map { granted -> any Channel in
                        self.effectiveReceiveBufferBytes = Int(granted)
                        return channel
                    }
                    .flatMapError { error in
                        channel.close().flatMapThrowing { throw error }
                    }
            }
    }

    private func adoptSendChannel(_ channel: any Channel) {
        self.eventLoop.assertInEventLoop()
        if self.closing {
            channel.close(promise: nil)
            return
        }
        self.sendChannel = channel
        channel.closeFuture.whenComplete { _ in
            guard !self.closing, self.sendChannel === channel else { return }
            self.sendChannel = nil
            self.channelFailures += 1
            self.scheduleReopen { self.openSendChannel().map { self.adoptSendChannel($0) } }
        }
    }

    private func adoptReceiveChannel(_ channel: any Channel, for endpoint: MulticastEndpoint) {
        self.eventLoop.assertInEventLoop()
        if self.closing {
            channel.close(promise: nil)
            return
        }
        self.receiveChannels[endpoint] = channel
        channel.closeFuture.whenComplete { _ in
            guard !self.closing, self.receiveChannels[endpoint] === channel else { return }
            self.receiveChannels[endpoint] = nil
            self.channelFailures += 1
            self.receiveErrors += 1
            self.scheduleReopen {
                self.openReceiveChannel(endpoint).map { self.adoptReceiveChannel($0, for: endpoint) }
            }
        }
    }

    /// Runs `open` after `reopenDelay`, again and again until it succeeds or the transport closes.
    private func scheduleReopen(_ open: @escaping @Sendable () -> EventLoopFuture<Void>) {
        guard !self.closing else { return }
        let task = self.eventLoop.scheduleTask(in: self.settings.reopenDelay) {
            guard !self.closing else { return }
            open().whenFailure { _ in self.scheduleReopen(open) }
        }
        self.reopenTasks.append(task)
        if self.reopenTasks.count > 64 { self.reopenTasks.removeFirst(self.reopenTasks.count - 64) }
    }

    // MARK: - Validation

    static func validate(_ settings: TransportSettings) throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TransportError(.invalidSettings, message()) }
        }
        try check((0...255).contains(settings.ttl), "ttl \(settings.ttl) is out of range 0...255")
        try check(settings.receiveBufferBytes > 0, "receiveBufferBytes \(settings.receiveBufferBytes) must be > 0")
        try check(settings.sendBufferBytes > 0, "sendBufferBytes \(settings.sendBufferBytes) must be > 0")
        try check(
            (1...65_507).contains(settings.maxDatagramBytes),
            "maxDatagramBytes \(settings.maxDatagramBytes) is out of range 1...65507"
        )
        try check(
            (1...4096).contains(settings.maxMessagesPerRead),
            "maxMessagesPerRead \(settings.maxMessagesPerRead) is out of range 1...4096"
        )
        try check(
            (0...1024).contains(settings.vectorReadMessageCount),
            "vectorReadMessageCount \(settings.vectorReadMessageCount) is out of range 0...1024"
        )
        try check(settings.maxPendingSendBytes > 1, "maxPendingSendBytes \(settings.maxPendingSendBytes) must be > 1")
        try check(settings.reopenDelay >= .zero, "reopenDelay must not be negative")
    }

    /// The interface must be a specific IPv4 address of a local interface (never 0.0.0.0: the kernel would then
    /// pick the interface by route, and multicast could leave the machine).
    static func resolveInterface(_ interface: String) throws -> in_addr {
        guard let address = try? SocketAddress(ipAddress: interface, port: 0), case .v4 = address else {
            throw TransportError(.invalidInterface, "interface \"\(interface)\" is not an IPv4 address")
        }
        let inAddress = Self.inAddr(address)
        guard inAddress.s_addr != INADDR_ANY else {
            throw TransportError(.invalidInterface, "interface must be a specific local address, not \(interface)")
        }
        let devices: [NIONetworkDevice]
        do {
            devices = try System.enumerateDevices()
        } catch {
            throw TransportError(.invalidInterface, "cannot list local interfaces to check \(interface): \(error)")
        }
        let isLocal = devices.contains { device in
            if let deviceAddress = device.address, case .v4 = deviceAddress {
                return Self.inAddr(deviceAddress).s_addr == inAddress.s_addr
            }
            return false
        }
        guard isLocal else {
            throw TransportError(.invalidInterface, "interface \(interface) is not an address of any local network interface")
        }
        return inAddress
    }

    static func resolveGroup(_ endpoint: MulticastEndpoint) throws -> SocketAddress {
        guard (1...65_535).contains(endpoint.port) else {
            throw TransportError(.invalidEndpoint, "port \(endpoint.port) of \(endpoint) is out of range 1...65535")
        }
        guard let address = try? SocketAddress(ipAddress: endpoint.group, port: endpoint.port), case .v4 = address
        else {
            throw TransportError(.invalidEndpoint, "group \"\(endpoint.group)\" is not an IPv4 address")
        }
        guard address.isMulticast else {
            throw TransportError(.invalidEndpoint, "group \(endpoint.group) is not an IPv4 multicast address (224.0.0.0/4)")
        }
        return address
    }

    private static func inAddr(_ address: SocketAddress) -> in_addr {
        guard case .v4(let v4) = address else { preconditionFailure("not an IPv4 address: \(address)") }
        return v4.address.sin_addr
    }

    private static func clampedOptionValue(_ value: Int) -> SocketOptionValue {
        SocketOptionValue(clamping: value)
    }
}

/// Hands datagrams and burst ends of one receiving channel to its transport.
private final class ReceiveHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let transport: MulticastTransport
    private let endpoint: MulticastEndpoint

    init(transport: MulticastTransport, endpoint: MulticastEndpoint) {
        self.transport = transport
        self.endpoint = endpoint
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.transport.received(Self.unwrapInboundIn(data).data, on: self.endpoint)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.transport.burstEnded()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.transport.receiveFailed(error)
    }
}
