import PaxosCore
import PaxosNode
import Testing

@Suite struct AuthenticatorTests {
    let auth = DatagramAuthenticator(secret: "a shared secret of the cluster".utf8)
    let message = Wire.encode(.prepare(ballot: Ballot(round: 3, proposer: 2), from: 17))

    @Test func aSealedDatagramOpensToTheSameMessage() {
        let datagram = auth.seal(message)
        #expect(datagram.count == message.count + DatagramAuthenticator.tagSize)
        #expect(auth.open(datagram) == message)
    }

    @Test func anyChangedByteIsRejected() {
        let datagram = auth.seal(message)
        for k in datagram.indices {
            var forged = datagram
            forged[k] ^= 0x01
            #expect(auth.open(forged) == nil)
        }
    }

    @Test func untaggedShortAndForeignKeyedDatagramsAreRejected() {
        #expect(auth.open(message) == nil)
        #expect(auth.open([]) == nil)
        #expect(auth.open(Array(repeating: 0, count: DatagramAuthenticator.tagSize)) == nil)
        let stranger = DatagramAuthenticator(secret: "somebody else's secret key".utf8)
        #expect(auth.open(stranger.seal(message)) == nil)
    }
}
