import PaxosCore
import Testing
@testable import PaxosStore

@Suite struct ProposerStoreTests {
    @Test func roundTripAndReopen() throws {
        try withTemporaryDirectory { dir in
            let path = dir.file("proposer-1.sqlite")
            do {
                let store = try ProposerStore(path: path)
                #expect(try store.load() == ProposerDurableState(highestRound: 0))
                try store.write(highestRound: 7)
                try store.write(highestRound: 12)
                #expect(try store.load() == ProposerDurableState(highestRound: 12))
            }
            #expect(try ProposerStore(path: path).load() == ProposerDurableState(highestRound: 12))
            let store = try ProposerStore(path: path)
            try store.write(highestRound: .max)
            store.close()
            #expect(try ProposerStore(path: path).load() == ProposerDurableState(highestRound: .max))
        }
    }
}
