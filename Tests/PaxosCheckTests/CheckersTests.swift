import Testing
import PaxosCheck

@Suite struct CheckersTests {
    @Test func prefixesOfOneSequenceAgree() {
        #expect(Checkers.prefixDisagreement([[1, 2, 3], [1, 2], [], [1, 2, 3]]) == nil)
        #expect(Checkers.prefixDisagreement([[Int]]()) == nil)
    }

    @Test func aStrayOutputIsNamedAgainstTheLongest() {
        // Output 0 is shorter and strays at position 1: it is the one named, against output 1.
        let d = Checkers.prefixDisagreement([[1, 9], [1, 2, 3]])
        #expect(d == Checkers.Disagreement(output: 0, position: 1, expected: 2, found: 9))
        // Two outputs of one length that differ: the later one is named.
        #expect(Checkers.prefixDisagreement([[5, 6], [5, 7]])?.output == 1)
    }

    @Test func oneSequenceGrowsAndReportsTheElementItHolds() {
        var s = OneSequence<String>()
        #expect(s.observe("a", at: 0) == nil)
        #expect(s.observe("a", at: 0) == nil)
        #expect(s.observe("b", at: 1) == nil)
        #expect(s.observe("c", at: 1) == "b")
        #expect(s.sequence == ["a", "b"])
    }

    @Test func duplicatesAreListedOnceInOrderOfTheirRepeat() {
        #expect(Checkers.duplicates([1, 2, 3]).isEmpty)
        #expect(Checkers.duplicates([1, 2, 2, 1, 2, 1]) == [2, 1])
        var once = OnceEach<Int>()
        #expect(once.observe(4) && !once.observe(4) && once.observe(5))
    }

    @Test func validityAndCompleteness() {
        #expect(Checkers.unsubmitted([1, 7, 2, 7, 8], submitted: [1, 2, 3]) == [7, 8])
        #expect(Checkers.unsubmitted([1, 2], submitted: [1, 2, 3]).isEmpty)
        #expect(Checkers.undelivered([3, 1, 2, 3, 4], delivered: [1, 2]) == [3, 4])
        #expect(Checkers.undelivered([1, 2], delivered: [1, 2, 9]).isEmpty)
    }

    @Test func multisetsCountRepeatedValues() {
        let same = Checkers.multisetDifference(delivered: [5, 5, 6], submitted: [6, 5, 5])
        #expect(same.missing.isEmpty && same.surplus.isEmpty)
        // A value submitted twice and delivered once is missing once; one delivered twice extra is surplus.
        let d = Checkers.multisetDifference(delivered: [5, 6, 6, 6, 8], submitted: [5, 5, 6])
        #expect(d.missing == [5: 1])
        #expect(d.surplus == [6: 2, 8: 1])
    }
}
