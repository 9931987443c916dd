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
}
