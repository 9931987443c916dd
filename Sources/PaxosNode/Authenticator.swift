import Crypto

/// Tags every datagram with HMAC-SHA256 under a shared key, and accepts only datagrams whose tag
/// verifies. Anyone who can reach the multicast group can otherwise speak for an acceptor.
///
/// A captured datagram can be replayed, but Paxos messages are idempotent: a repeated vote, promise or
/// decision never counts twice.
public struct DatagramAuthenticator {
    public static let tagSize = SHA256.byteCount
    private let key: SymmetricKey

    public init(secret: some Sequence<UInt8>) {
        key = SymmetricKey(data: Array(secret))
    }

    /// The message followed by its tag.
    public func seal(_ message: [UInt8]) -> [UInt8] {
        var datagram = message
        datagram.append(contentsOf: HMAC<SHA256>.authenticationCode(for: message, using: key))
        return datagram
    }

    /// The message inside a datagram whose tag verifies (compared in constant time), or nil.
    public func open(_ datagram: [UInt8]) -> [UInt8]? {
        guard datagram.count > Self.tagSize else { return nil }
        let message = datagram[..<(datagram.count - Self.tagSize)]
        let tag = datagram[(datagram.count - Self.tagSize)...]
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: message, using: key) else { return nil }
        return Array(message)
    }
}
