/// One acceptor's whole answer to a prepare (or to a recovering acceptor), put together from its chunks.
public struct AcceptorAnswer: Hashable, Sendable {
    public var acceptor: UInt32
    public var ballot: Ballot
    public var from: Instance
    public var trimmedThrough: Instance
    public var accepted: [AcceptedEntry]
}

/// Puts answers together chunk by chunk, never mixing chunks of two answers.
///
/// An acceptor answers each repeated request from its state at that moment, so two answers may split
/// differently; only chunks carrying the same `answer` label belong together. A few answers per acceptor
/// are assembled at once (a lost chunk leaves one incomplete while the next arrives); older incomplete
/// ones are dropped.
struct PromiseAnswers: Hashable, Sendable {
    struct Partial: Hashable, Sendable {
        var first: Promise
        var chunks: [UInt32: [AcceptedEntry]] = [:]
        var trimmedThrough: Instance = 0
    }

    static let maxPartialPerAcceptor = 4

    private var partial: [UInt32: [UInt64: Partial]] = [:]
    private var order: [UInt32: [UInt64]] = [:]
    /// The latest complete answer of each acceptor.
    private(set) var complete: [UInt32: AcceptorAnswer] = [:]

    /// Adds a chunk; returns the answer it completes, if any.
    @discardableResult
    mutating func add(_ p: Promise) -> AcceptorAnswer? {
        guard p.chunk < p.chunkCount else { return nil }
        var answers = partial[p.acceptor, default: [:]]
        var labels = order[p.acceptor, default: []]
        var part = answers[p.answer] ?? Partial(first: p)
        // Every chunk of one answer repeats its header; a chunk that disagrees is not of this answer.
        guard part.first.chunkCount == p.chunkCount, part.first.ballot == p.ballot, part.first.from == p.from,
              part.first.trimmedThrough == p.trimmedThrough else { return nil }
        if answers[p.answer] == nil {
            labels.append(p.answer)
            if labels.count > Self.maxPartialPerAcceptor { answers[labels.removeFirst()] = nil }
        }
        part.chunks[p.chunk] = p.accepted
        guard part.chunks.count == Int(p.chunkCount) else {
            answers[p.answer] = part
            partial[p.acceptor] = answers
            order[p.acceptor] = labels
            return nil
        }
        answers[p.answer] = nil
        labels.removeAll { $0 == p.answer }
        partial[p.acceptor] = answers
        order[p.acceptor] = labels
        let entries = (0..<p.chunkCount).flatMap { part.chunks[$0] ?? [] }
        let answer = AcceptorAnswer(acceptor: p.acceptor, ballot: p.ballot, from: p.from,
                                    trimmedThrough: p.trimmedThrough, accepted: entries)
        complete[p.acceptor] = answer
        return answer
    }

    mutating func reset() { self = PromiseAnswers() }
}
