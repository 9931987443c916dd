/// The properties every run of the broadcast must have, checked on what learners delivered: pure functions
/// over sequences, the same for the simulator's in-memory outputs (submission ids), learners' output files
/// (lines) and learn databases (values). Each returns what is wrong (empty or nil when all is well), so a
/// caller can word its own verdict.
///
/// - agreement and total order: every output is a prefix of one sequence;
/// - exactly once: no submission delivered twice by one learner (or, for values that may repeat, each
///   value delivered as often as it was submitted);
/// - validity: only submitted values delivered;
/// - completeness: every submitted value delivered.
public enum Checkers {
    /// Where an output leaves the one sequence: `output` (index into the outputs) has `found` at
    /// `position` (0-based) where an earlier output has `expected`.
    public struct Disagreement<Element: Equatable>: Equatable {
        public var output: Int
        public var position: Int
        public var expected: Element
        public var found: Element

        public init(output: Int, position: Int, expected: Element, found: Element) {
            self.output = output
            self.position = position
            self.expected = expected
            self.found = found
        }
    }

    /// Agreement: the first place where an output is not a prefix of the one sequence the outputs share
    /// (the longest output, against which every other is compared), or nil.
    public static func prefixDisagreement<S: Collection>(_ outputs: [S]) -> Disagreement<S.Element>?
    where S.Element: Equatable {
        var sequence = OneSequence<S.Element>()
        // The longest first, so an error names the short output as the one that strays.
        let order = outputs.indices.sorted { (outputs[$0].count, -$0) > (outputs[$1].count, -$1) }
        for o in order {
            for (position, element) in outputs[o].enumerated() {
                if let expected = sequence.observe(element, at: position) {
                    return Disagreement(output: o, position: position, expected: expected, found: element)
                }
            }
        }
        return nil
    }

    /// Exactly once: the elements delivered more than once, each listed once, in the order their first
    /// repeat appears.
    public static func duplicates<S: Sequence>(_ delivered: S) -> [S.Element] where S.Element: Hashable {
        var once = OnceEach<S.Element>()
        var reported = Set<S.Element>()
        var result: [S.Element] = []
        for element in delivered where !once.observe(element) && reported.insert(element).inserted {
            result.append(element)
        }
        return result
    }

    /// Validity: the distinct delivered elements that were never submitted, in order of first delivery.
    public static func unsubmitted<S: Sequence>(_ delivered: S, submitted: Set<S.Element>) -> [S.Element]
    where S.Element: Hashable {
        var seen = Set<S.Element>()
        return delivered.filter { !submitted.contains($0) && seen.insert($0).inserted }
    }

    /// Completeness: the distinct submitted elements never delivered, in submission order.
    public static func undelivered<S: Sequence>(_ submitted: S, delivered: Set<S.Element>) -> [S.Element]
    where S.Element: Hashable {
        var seen = Set<S.Element>()
        return submitted.filter { !delivered.contains($0) && seen.insert($0).inserted }
    }

    /// Exactly once for values that may be submitted several times (the course's random numbers): how many
    /// deliveries of each value are missing and how many are surplus, comparing multisets.
    public static func multisetDifference<S: Sequence, T: Sequence>(delivered: S, submitted: T)
        -> (missing: [S.Element: Int], surplus: [S.Element: Int]) where S.Element: Hashable, T.Element == S.Element {
        var balance: [S.Element: Int] = [:]
        for element in submitted { balance[element, default: 0] += 1 }
        for element in delivered { balance[element, default: 0] -= 1 }
        var missing: [S.Element: Int] = [:]
        var surplus: [S.Element: Int] = [:]
        for (element, n) in balance where n != 0 {
            if n > 0 { missing[element] = n } else { surplus[element] = -n }
        }
        return (missing, surplus)
    }
}

/// Agreement checked as outputs grow: the one sequence seen so far, extended by whichever output is
/// longest. The simulator feeds it every learner's new deliveries after each step.
public struct OneSequence<Element: Equatable> {
    public private(set) var sequence: [Element] = []

    public init() {}

    /// Some output has `element` at `position` (0-based; an output's elements are observed in order, so
    /// `position` is at most the sequence's length). Returns the sequence's element there if it differs.
    public mutating func observe(_ element: Element, at position: Int) -> Element? {
        precondition(position <= sequence.count, "an output's elements are observed in order")
        if position == sequence.count {
            sequence.append(element)
            return nil
        }
        return sequence[position] == element ? nil : sequence[position]
    }
}

/// Exactly once checked as an output grows: what it delivered so far.
public struct OnceEach<Element: Hashable> {
    public private(set) var seen: Set<Element> = []

    public init() {}

    /// False if `element` was delivered before.
    public mutating func observe(_ element: Element) -> Bool { seen.insert(element).inserted }
}
