import NIOCore
import NIOPosix
import Testing

@testable import PaxosTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("MulticastTransport on loopback")
struct MulticastTransportTests {
    @Test("a datagram sent to an endpoint reaches both transports listening on it")
    func twoReceiversOnOneEndpoint() async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let inboxA = Inbox()
            let inboxB = Inbox()
            let a = try await startTransport(on: loop, listen: [endpoint], inbox: inboxA)
            let b = try await startTransport(on: loop, listen: [endpoint], inbox: inboxB)
            let sender = try await startTransport(on: loop, listen: [])

            try await onLoop(loop) {
                sender.send(Array("hello".utf8), to: endpoint)
                sender.flush()
            }
            let both = try await waitUntil(on: loop) { inboxA.datagrams.count >= 1 && inboxB.datagrams.count >= 1 }
            #expect(both)
            try await Task.sleep(for: .milliseconds(50))  // anything extra would show up now
            try await onLoop(loop) {
                for inbox in [inboxA, inboxB] {
                    #expect(inbox.datagrams.count == 1)
                    #expect(inbox.datagrams.first?.endpoint == endpoint)
                    #expect(inbox.datagrams.first?.bytes == Array("hello".utf8))
                    #expect(inbox.bursts >= 1)
                }
                #expect(sender.sendErrors == 0)
            }
            for transport in [a, b, sender] { try await transport.close().get() }
        }
    }

    @Test("a transport on several endpoints reports each datagram on the endpoint it arrived on")
    func severalEndpoints() async throws {
        try await withEventLoop { loop in
            let first = randomEndpoint()
            let sameGroupOtherPort = MulticastEndpoint(group: first.group, port: first.port == 59_999 ? 20_000 : first.port + 1)
            let samePortOtherGroup = randomEndpoint(port: first.port)
            let endpoints = [first, sameGroupOtherPort, samePortOtherGroup]
            let inbox = Inbox()
            let receiver = try await startTransport(on: loop, listen: endpoints + [first], inbox: inbox)
            #expect(receiver.endpoints == endpoints)  // the duplicate is dropped
            let sender = try await startTransport(on: loop, listen: [])

            try await onLoop(loop) {
                for (index, endpoint) in endpoints.enumerated() {
                    sender.send([UInt8(index)], to: endpoint)
                }
            }  // no explicit flush: the transport flushes at the end of the loop tick
            #expect(try await waitUntil(on: loop) { inbox.datagrams.count >= 3 })
            try await Task.sleep(for: .milliseconds(50))
            try await onLoop(loop) {
                #expect(inbox.datagrams.count == 3)
                for (endpoint, bytes) in inbox.datagrams {
                    #expect(bytes.count == 1)
                    if let index = bytes.first { #expect(endpoints[Int(index)] == endpoint) }
                }
            }
            try await receiver.close().get()
            try await sender.close().get()
        }
    }

    @Test("a burst of 1,000 datagrams arrives whole")
    func burstArrives() async throws {
        try await self.burst(settings: TransportSettings())
    }

    @Test("a burst of 1,000 datagrams of mixed sizes arrives whole with vector reads (recvmmsg)")
    func burstArrivesWithVectorReads() async throws {
        try await self.burst(settings: TransportSettings(vectorReadMessageCount: 16))
    }

    private func burst(settings: TransportSettings) async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let inbox = Inbox()
            let receiver = try await startTransport(on: loop, listen: [endpoint], settings: settings, inbox: inbox)
            let sender = try await startTransport(on: loop, listen: [])
            let count = 1_000

            try await onLoop(loop) {
                for seq in 0..<count { sender.send(numbered(seq, padding: seq % 7 == 0 ? 1_400 : 200), to: endpoint) }
                sender.flush()
            }
            let all = try await waitUntil(on: loop) { inbox.datagrams.count >= count }
            try await onLoop(loop) {
                #expect(all, "received \(inbox.datagrams.count) of \(count)")
                #expect(sender.sendErrors == 0)
                #expect(receiver.receiveErrors == 0)
                var seen = Set<Int>()
                for (_, bytes) in inbox.datagrams {
                    guard let seq = sequenceNumber(bytes) else {
                        Issue.record("short datagram")
                        continue
                    }
                    #expect(bytes == numbered(seq, padding: seq % 7 == 0 ? 1_400 : 200))
                    seen.insert(seq)
                }
                #expect(seen == Set(0..<count))
                #expect(inbox.bursts >= 1 && inbox.bursts <= inbox.datagrams.count)
            }
            try await receiver.close().get()
            try await sender.close().get()
        }
    }

    @Test("a transport receives nothing on an endpoint it does not listen to, even its own datagrams")
    func noDatagramsOnUnlistenedEndpoint() async throws {
        try await withEventLoop { loop in
            let mine = randomEndpoint()
            let other = randomEndpoint()
            let inbox = Inbox()
            let otherInbox = Inbox()
            let transport = try await startTransport(on: loop, listen: [mine], inbox: inbox)
            let witness = try await startTransport(on: loop, listen: [other], inbox: otherInbox)

            try await onLoop(loop) {
                transport.send(Array("elsewhere".utf8), to: other)
                transport.flush()
            }
            #expect(try await waitUntil(on: loop) { otherInbox.datagrams.count == 1 })
            // A marker on its own endpoint comes back (IP_MULTICAST_LOOP = 1) after the first datagram was delivered.
            try await onLoop(loop) {
                transport.send(Array("marker".utf8), to: mine)
                transport.flush()
            }
            #expect(try await waitUntil(on: loop) { inbox.datagrams.count >= 1 })
            try await Task.sleep(for: .milliseconds(50))
            try await onLoop(loop) {
                #expect(inbox.datagrams.count == 1)
                #expect(inbox.datagrams.first?.endpoint == mine)
                #expect(inbox.datagrams.first?.bytes == Array("marker".utf8))
                #expect(otherInbox.datagrams.count == 1)
            }
            try await transport.close().get()
            try await witness.close().get()
        }
    }

    @Test(
        "invalid interface, endpoint or settings fail start with a clear one-line error",
        arguments: [
            InvalidCase("interface not local", TransportSettings(interface: "10.255.255.1"), .invalidInterface),
            InvalidCase("interface not an address", TransportSettings(interface: "not-an-address"), .invalidInterface),
            InvalidCase("interface 0.0.0.0", TransportSettings(interface: "0.0.0.0"), .invalidInterface),
            InvalidCase("interface IPv6", TransportSettings(interface: "::1"), .invalidInterface),
            InvalidCase("port 0", endpoint: MulticastEndpoint(group: "239.1.2.3", port: 0), .invalidEndpoint),
            InvalidCase("port 70000", endpoint: MulticastEndpoint(group: "239.1.2.3", port: 70_000), .invalidEndpoint),
            InvalidCase("unicast group", endpoint: MulticastEndpoint(group: "127.0.0.1", port: 30_000), .invalidEndpoint),
            InvalidCase("IPv6 group", endpoint: MulticastEndpoint(group: "ff02::1", port: 30_000), .invalidEndpoint),
            InvalidCase("group not an address", endpoint: MulticastEndpoint(group: "nonsense", port: 30_000), .invalidEndpoint),
            InvalidCase("ttl 256", TransportSettings(ttl: 256), .invalidSettings),
            InvalidCase("maxDatagramBytes 65508", TransportSettings(maxDatagramBytes: 65_508), .invalidSettings),
            InvalidCase("receiveBufferBytes 0", TransportSettings(receiveBufferBytes: 0), .invalidSettings),
            InvalidCase("vectorReadMessageCount -1", TransportSettings(vectorReadMessageCount: -1), .invalidSettings),
        ]
    )
    func invalidConfiguration(_ invalid: InvalidCase) async throws {
        try await withEventLoop { loop in
            do {
                let transport = try await startTransport(on: loop, listen: [invalid.endpoint], settings: invalid.settings)
                try await transport.close().get()
                Issue.record("start succeeded: \(invalid.name)")
            } catch let error as TransportError {
                #expect(error.kind == invalid.kind, "\(error)")
                #expect(!error.description.isEmpty)
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test("send failures are counted, never thrown or fatal")
    func sendFailuresAreCounted() async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let inbox = Inbox()
            let receiver = try await startTransport(on: loop, listen: [endpoint], inbox: inbox)
            let sender = try await startTransport(
                on: loop,
                listen: [],
                settings: TransportSettings(maxDatagramBytes: 1_000)
            )
            try await onLoop(loop) {
                sender.send([UInt8](repeating: 1, count: 1_001), to: endpoint)
                #expect(sender.sendErrors == 1)
                #expect((sender.lastSendError as? TransportError)?.kind == .datagramTooLarge)
                sender.send([1], to: MulticastEndpoint(group: "10.0.0.1", port: endpoint.port))
                #expect(sender.sendErrors == 2)
                #expect((sender.lastSendError as? TransportError)?.kind == .invalidEndpoint)
                sender.send([UInt8](repeating: 2, count: 1_000), to: endpoint)
            }
            #expect(try await waitUntil(on: loop) { inbox.datagrams.count == 1 })
            try await sender.close().get()
            try await onLoop(loop) {
                sender.send([3], to: endpoint)
                #expect(sender.sendErrors == 3)
                #expect((sender.lastSendError as? TransportError)?.kind == .notOpen)
            }
            try await receiver.close().get()
        }
    }

    @Test("received datagrams longer than maxDatagramBytes are dropped and counted", arguments: [0, 4])
    func oversizeReceivesAreDropped(vectorReadMessageCount: Int) async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let inbox = Inbox()
            let receiver = try await startTransport(
                on: loop,
                listen: [endpoint],
                settings: TransportSettings(maxDatagramBytes: 100, vectorReadMessageCount: vectorReadMessageCount),
                inbox: inbox
            )
            let sender = try await startTransport(on: loop, listen: [])
            try await onLoop(loop) {
                sender.send([UInt8](repeating: 7, count: 5_000), to: endpoint)
                sender.send([UInt8](repeating: 8, count: 100), to: endpoint)
                sender.send([UInt8](repeating: 9, count: 101), to: endpoint)
                sender.send([UInt8](repeating: 10, count: 1), to: endpoint)
            }
            #expect(try await waitUntil(on: loop) { receiver.receiveOversize == 2 && inbox.datagrams.count == 2 })
            try await onLoop(loop) {
                #expect(inbox.datagrams.map(\.bytes) == [[UInt8](repeating: 8, count: 100), [10]])
            }
            try await receiver.close().get()
            try await sender.close().get()
        }
    }

    @Test("the sending socket keeps multicast on 127.0.0.1: IP_MULTICAST_IF, LOOP, TTL and source address")
    func sendingSocketOptions() async throws {
        try await withEventLoop { loop in
            let transport = try await startTransport(on: loop, listen: [], settings: TransportSettings(ttl: 0))
            let (channel, local) = try await onLoop(loop) { (transport.sendChannel!, transport.sendChannel!.localAddress) }
            let provider = channel as! any SocketOptionProvider
            let interface = try await provider.getIPMulticastIF().get()
            #expect(interface.s_addr == in_addr_t(0x7F00_0001).bigEndian)
            #expect(try await provider.getIPMulticastLoop().get() == 1)
            #expect(try await provider.getIPMulticastTTL().get() == 0)
            #expect(local?.ipAddress == "127.0.0.1")
            try await onLoop(loop) {
                #expect(transport.effectiveSendBufferBytes > 0)
            }
            try await transport.close().get()
        }
    }

    @Test("datagrams arrive with source address 127.0.0.1 (seen by a plain NIO socket)")
    func sourceAddressIsLoopback() async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let sources = Sources()
            let raw = try await DatagramBootstrap(group: loop)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(SourceRecorder(sources: sources))
                    }
                }
                .bind(host: endpoint.group, port: endpoint.port).get()
            let group = try SocketAddress(ipAddress: endpoint.group, port: endpoint.port)
            let loopback = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
            guard case .v4(let g) = group, case .v4(let l) = loopback else { return }
            try await (raw as! any SocketOptionProvider).unsafeSetSocketOption(
                level: .ip,
                name: .ip_add_membership,
                value: ip_mreq(imr_multiaddr: g.address.sin_addr, imr_interface: l.address.sin_addr)
            ).get()
            let sender = try await startTransport(on: loop, listen: [])
            try await onLoop(loop) { sender.send([42], to: endpoint) }
            #expect(try await waitUntil(on: loop) { !sources.addresses.isEmpty })
            try await onLoop(loop) { #expect(sources.addresses.first?.ipAddress == "127.0.0.1") }
            try await sender.close().get()
            try await raw.close().get()
        }
    }

    @Test("channels closed under the transport are reopened and work again")
    func channelsAreReopened() async throws {
        try await withEventLoop { loop in
            let endpoint = randomEndpoint()
            let inbox = Inbox()
            let settings = TransportSettings(reopenDelay: .milliseconds(20))
            let transport = try await startTransport(on: loop, listen: [endpoint], settings: settings, inbox: inbox)
            let (send, receive) = try await onLoop(loop) { (transport.sendChannel!, transport.receiveChannels[endpoint]!) }
            try await send.close().get()
            try await receive.close().get()
            #expect(
                try await waitUntil(on: loop) {
                    transport.channelFailures == 2 && transport.sendChannel != nil
                        && transport.receiveChannels[endpoint] != nil
                }
            )
            try await onLoop(loop) { transport.send([9], to: endpoint) }
            #expect(try await waitUntil(on: loop) { inbox.datagrams.count == 1 })
            try await transport.close().get()
            try await onLoop(loop) {
                #expect(transport.channelFailures == 2)  // closing on purpose is not a failure
                #expect(transport.sendChannel == nil && transport.receiveChannels.isEmpty)
            }
        }
    }
}

struct InvalidCase: Sendable, CustomTestStringConvertible {
    var name: String
    var settings: TransportSettings
    var endpoint: MulticastEndpoint
    var kind: TransportError.Kind

    init(_ name: String, _ settings: TransportSettings = TransportSettings(), endpoint: MulticastEndpoint = randomEndpoint(), _ kind: TransportError.Kind) {
        self.name = name
        self.settings = settings
        self.endpoint = endpoint
        self.kind = kind
    }

    var testDescription: String { self.name }
}

final class Sources: @unchecked Sendable {
    var addresses: [SocketAddress] = []
}

private final class SourceRecorder: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let sources: Sources
    init(sources: Sources) { self.sources = sources }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.sources.addresses.append(Self.unwrapInboundIn(data).remoteAddress)
    }
}
