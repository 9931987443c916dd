import Foundation
import PaxosCommandLine
import Testing

/// A client's values are the lines of its standard input; Windows line endings give the same values.
@Suite struct ReadLinesTests {
    func lines(of text: String) throws -> (lines: [String], last: String) {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data(text.utf8))
        try pipe.fileHandleForWriting.close()
        var lines: [String] = []
        let last = readLines(fromDescriptor: pipe.fileHandleForReading.fileDescriptor) { batch in
            lines += batch.map { String(decoding: $0, as: UTF8.self) }
        }
        return (lines, String(decoding: last, as: UTF8.self))
    }

    @Test func unixLinesAreKeptExactly() throws {
        let (lines, last) = try lines(of: "111\n 2 2 \n\n\tx\n")
        #expect(lines == ["111", " 2 2 ", "", "\tx"])
        #expect(last == "")
    }

    @Test func aCarriageReturnBeforeTheNewlineIsNotPartOfTheValue() throws {
        let (lines, last) = try lines(of: "111\r\n222\r\n\r\nmid\rdle\r\nno newline\r")
        #expect(lines == ["111", "222", "", "mid\rdle"])
        #expect(last == "no newline")
    }

    func limited(_ text: [UInt8], max: Int) throws -> (lines: [[UInt8]], input: LineInput) {
        let pipe = Pipe()
        // Written from another thread: the text may be larger than the pipe's buffer.
        let writer = pipe.fileHandleForWriting
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            writer.write(Data(text))
            try? writer.close()
            done.signal()
        }
        var lines: [[UInt8]] = []
        let input = readLines(fromDescriptor: pipe.fileHandleForReading.fileDescriptor, maxLineBytes: max) { lines += $0 }
        try? pipe.fileHandleForReading.close()
        done.wait()
        return (lines, input)
    }

    /// A client stops at the first line over max-value-bytes: every line before it is handed over, it and
    /// what follows are not, and it is named by its number and size (without its "\r\n").
    @Test func aLineOverTheLimitStopsReadingNamingItsNumberAndSize() throws {
        let long = [UInt8](repeating: 0x61, count: 200_000)
        let text = Array("a\nbb\n".utf8) + long + Array("\r\nafter\n".utf8)
        let (lines, input) = try limited(text, max: 100_000)
        #expect(lines == [Array("a".utf8), Array("bb".utf8)])
        #expect(input.overLong == OverLongLine(line: 3, bytes: 200_000, limit: 100_000))
        #expect(input.overLong?.description == "line 3 is 200000 bytes, over max-value-bytes 100000")
        #expect(input.last.isEmpty)
    }

    @Test func aLineOfExactlyTheLimitPassesWithOrWithoutCarriageReturn() throws {
        let exact = [UInt8](repeating: 0x62, count: 1_000)
        let (lines, input) = try limited(exact + [0x0D, 0x0A] + exact + [0x0A] + exact + [0x0D], max: 1_000)
        #expect(lines == [exact, exact])
        #expect(input.overLong == nil)
        #expect(input.last == exact)
        // One byte more, at the end of the input without a newline.
        let (_, over) = try limited(exact + [0x0A] + exact + [0x63], max: 1_000)
        #expect(over.overLong == OverLongLine(line: 2, bytes: 1_001, limit: 1_000))
        let (_, overCR) = try limited(exact + [0x63, 0x0D, 0x0A], max: 1_000)
        #expect(overCR.overLong == OverLongLine(line: 1, bytes: 1_001, limit: 1_000))
    }
}
