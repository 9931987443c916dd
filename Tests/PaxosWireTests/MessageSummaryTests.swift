import Testing
@testable import PaxosWire

/// The log line of a message: one bounded line, whatever the message holds.
@Suite struct MessageSummaryTests {
    @Test(arguments: WireTests.samples)
    func isOneShortLine(message: Message) {
        let line = message.summary
        #expect(!line.isEmpty)
        #expect(line.allSatisfy { !$0.isNewline })
        // Lists are summarised as ranges and counts, never spelled out: a 60 KB accept stays one short line.
        #expect(line.count < 200, "\(line)")
    }

    @Test func rangesNameFirstLastAndCount() {
        let proposals = (5...9).map { InstanceProposal(instance: $0, proposal: .noop) }
        let accept = Message.accept(ballot: Ballot(round: 2, proposer: 1, incarnation: 0), proposals: proposals, decidedThrough: 4)
        #expect(accept.summary.contains("instances 5-9 (5)"))
        #expect(accept.summary.contains("decided through 4"))
        #expect(Message.decided([InstanceProposal(instance: 7, proposal: .noop)]).summary == "decided instance 7")
    }

    @Test func routineKindsAreTheSteadyStateOnes() {
        let kinds = WireTests.samples.filter(\.isRoutine).map { WireTests.typeCode($0) }
        // submit 1, chosen 2, accept 6, accepted 7, heartbeat 9, progress 13, present 17
        #expect(Set(kinds) == [1, 2, 6, 7, 9, 13, 17])
    }
}
