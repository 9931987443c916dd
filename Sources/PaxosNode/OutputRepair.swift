#if canImport(Glibc)
import Glibc
#endif
import PaxosStore

/// A learner writes its output only where it knows what is there.
///
/// A learner printing into a pipe commits values before it prints them, so kill -9 between the two
/// leaves values in the database that never reached the output; one printing into a regular file prints
/// them first (``LearnerNode/printsFirst``), so kill -9 between the two leaves values in the output that
/// are not in the database yet; and a kill in the middle of a write can leave half a line.
/// The learner records in its database which regular file it prints into (device and inode) and the
/// position of that file's first line (`LearnerOutput`), before it prints anything there. At start:
///
/// - standard output not a regular file (pipe, terminal, /dev/null): left alone, nothing recorded;
/// - an empty file: a new output from the next position, recorded as such. Only if it is the recorded
///   file and its modification time is the one recorded (nothing wrote or truncated it since) did the
///   learner die before printing into it: it is completed from its recorded first position;
/// - a non-empty file that is the recorded one and holds, line by line, the delivered values from its
///   first position on (perhaps ending in part of the next one): a half-written last line is cut and
///   exactly the missing values are appended;
/// - the recorded file holding the delivered values and then more complete lines (and perhaps part of
///   one more, cut): those lines were printed and the learner was killed before persisting them. They
///   are kept and returned (`printedAhead`): the learner learns those positions again from the cluster
///   (acceptors trim only what every learner reported durably delivered, so they still have them),
///   checks them against these lines, persists them and prints nothing for them;
/// - any other non-empty file (another file, no record, lines this learner did not print, more than
///   ``maximumAheadBytes`` past its database): refused with `Unrecognised`, untouched. Never history
///   appended, never a gap, never a value printed twice.
public enum OutputRepair {
    public enum Outcome: Equatable, Sendable, CustomStringConvertible {
        /// Not a regular file: nothing read, written or recorded.
        case untouched
        /// An empty file, recorded as a new output whose first line will be position `first`.
        case started(first: UInt64)
        /// The learner's own output, beginning at position `first`: `appended` values were written after
        /// `kept` complete lines (a partial line was cut first if `cut`).
        case completed(first: UInt64, kept: UInt64, appended: UInt64, cut: Bool)
        /// The learner's own output, beginning at position `first`, holding `ahead` values past its
        /// database's `kept` (printed, then killed before persisting them; a partial line after them was
        /// cut if `cut`): ``Repaired/printedAhead`` are those values, to be learned again, not printed.
        case ahead(first: UInt64, kept: UInt64, ahead: UInt64, cut: Bool)

        public var description: String {
            switch self {
            case .untouched: "not a regular file, left alone"
            case let .started(first): "a new output file, from position \(first)"
            case let .completed(first, kept, appended, cut):
                "its output file from position \(first): \(kept) lines kept\(cut ? ", a half-written line cut" : ""), "
                    + "\(appended) values appended"
            case let .ahead(first, kept, ahead, cut):
                "its output file from position \(first): \(kept) lines kept, \(ahead) printed before the last stop but not "
                    + "yet persisted (learned again, not printed again)\(cut ? ", a half-written line cut" : "")"
            }
        }
    }

    /// A non-empty output this learner did not write (or not all of it): nothing was changed.
    public struct Unrecognised: Error, Equatable, CustomStringConvertible {
        public var path: String
        public var lines: UInt64
        public var nextPosition: UInt64

        public var description: String {
            "standard output '\(path)' already holds \(lines) line\(lines == 1 ? "" : "s") this learner did not write; "
                + "give the learner an empty file (or its own output) — it resumes at position \(nextPosition)"
        }
    }

    struct Failed: Error, CustomStringConvertible {
        var what: String
        var errno: Int32
        var description: String { "cannot \(what) the learner's output: \(String(cString: strerror(errno)))" }
    }

    /// Checks, completes or records the output behind `fd` before the learner prints anything there.
    /// - Parameters:
    ///   - fd: the output's file descriptor (1 for standard output), as the shell opened it (`>` or `>>`).
    ///   - store: the learner's database: its delivered values and its recorded output.
    ///   - nextPosition: the learner's next position (one past the last delivered value).
    /// - Throws: `Unrecognised` for a non-empty file it does not know, or a store or I/O error.
    public static func repair(fd: Int32, store: LearnerStore, nextPosition: UInt64) throws -> Outcome {
        try repairing(fd: fd, store: store, nextPosition: nextPosition).outcome
    }

    /// What ``repairing(fd:store:nextPosition:)`` found and did.
    public struct Repaired: Sendable {
        public var outcome: Outcome
        /// Complete lines past the database's delivered prefix (positions `nextPosition` on): printed by a
        /// learner that prints before it persists, killed before it persisted them.
        public var printedAhead: [[UInt8]] = []
    }

    /// At most this many bytes of printed-ahead lines are believed (a learner prints one burst ahead of
    /// its database at most); more is a file this learner did not write.
    public static let maximumAheadBytes = 256 << 20

    /// ``repair(fd:store:nextPosition:)``, also returning the lines printed ahead of the database.
    public static func repairing(fd: Int32, store: LearnerStore, nextPosition: UInt64) throws -> Repaired {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return Repaired(outcome: .untouched) }
        let recorded = try store.output()
        let mine = recorded.flatMap { $0.device == UInt64(info.st_dev) && $0.inode == UInt64(info.st_ino) ? $0 : nil }
        let delivered = nextPosition - 1

        if info.st_size == 0 {
            if let mine, mine.modified == modified(info) {
                // Recorded while empty and untouched since: the learner died before printing into it.
                lseek(fd, 0, SEEK_END)
                let appended = try append(fd: fd, store: store, from: mine.firstPosition, through: delivered)
                return Repaired(outcome: .completed(first: mine.firstPosition, kept: 0, appended: appended, cut: false))
            }
            try store.recordOutput(LearnerOutput(device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                                                 firstPosition: nextPosition, modified: modified(info)))
            return Repaired(outcome: .started(first: nextPosition))
        }

        // Read the file through a separate descriptor: fd may be write-only (an `>>` redirection).
        let reader = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { throw Failed(what: "read", errno: errno) }
        defer { close(reader) }
        var expected = mine.map { Expected(store: store, next: $0.firstPosition, last: delivered) }
        let scan = try Scan(reader: reader, expected: &expected)
        guard let mine, scan.matches else {
            throw Unrecognised(path: path(of: fd), lines: scan.lines + (scan.partial ? 1 : 0), nextPosition: nextPosition)
        }
        if scan.partial {
            guard ftruncate(fd, off_t(scan.completeEnd)) == 0 else { throw Failed(what: "cut a half-written line of", errno: errno) }
        }
        lseek(fd, 0, SEEK_END)  // a descriptor without O_APPEND would otherwise write over the start
        if !scan.ahead.isEmpty {
            let kept = scan.lines - UInt64(scan.ahead.count)
            return Repaired(outcome: .ahead(first: mine.firstPosition, kept: kept, ahead: UInt64(scan.ahead.count), cut: scan.partial),
                            printedAhead: scan.ahead)
        }
        let appended = try append(fd: fd, store: store, from: mine.firstPosition + scan.lines, through: delivered)
        return Repaired(outcome: .completed(first: mine.firstPosition, kept: scan.lines, appended: appended, cut: scan.partial))
    }

    /// The file's modification time in nanoseconds since the epoch.
    static func modified(_ info: stat) -> Int64 {
        Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec)
    }

    /// The path the descriptor was opened with, for messages.
    static func path(of fd: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n > 0 else { return "fd \(fd)" }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Appends the values at positions `from`…`through`, a line each, in chunks; returns how many.
    static func append(fd: Int32, store: LearnerStore, from: UInt64, through: UInt64) throws -> UInt64 {
        var position = from
        while position <= through {
            let values = try store.values(fromPosition: position, limit: Int(min(through - position + 1, 4096)))
            guard !values.isEmpty else { break }
            var bytes: [UInt8] = []
            for v in values {
                bytes.append(contentsOf: v)
                bytes.append(0x0A)
            }
            try writeAll(fd: fd, bytes: bytes)
            position += UInt64(values.count)
        }
        return position - from
    }

    /// The delivered values from a position on, read from the store a chunk at a time.
    struct Expected {
        let store: LearnerStore
        var next: UInt64
        let last: UInt64
        var chunk: [[UInt8]] = []
        var index = 0

        init(store: LearnerStore, next: UInt64, last: UInt64) {
            self.store = store
            self.next = next
            self.last = last
        }

        /// The next value without consuming it, or nil past the last delivered one.
        mutating func peek() throws -> [UInt8]? {
            if index == chunk.count {
                guard next <= last else { return nil }
                chunk = try store.values(fromPosition: next, limit: Int(min(last - next + 1, 4096)))
                index = 0
                next += UInt64(chunk.count)
                if chunk.isEmpty { return nil }
            }
            return chunk[index]
        }

        mutating func pop() throws -> [UInt8]? {
            defer { if index < chunk.count { index += 1 } }
            return try peek()
        }
    }

    /// One pass over the file: its complete lines, whether a partial line ends it, and whether every line
    /// is the expected value (a partial one a prefix of it). Without expected values nothing matches.
    /// Complete lines past the expected values are `ahead` (up to ``maximumAheadBytes``); a partial line
    /// after the expected values can be anything (it was never printed whole: it is cut).
    struct Scan {
        var lines: UInt64 = 0
        var ahead: [[UInt8]] = []
        var aheadBytes = 0
        var completeEnd: Int64 = 0
        var partial = false
        var matches: Bool

        init(reader: Int32, expected: inout Expected?) throws {
            matches = expected != nil
            var line: [UInt8] = []  // the current line while it can still match
            var offset: Int64 = 0
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw Failed(what: "read", errno: errno) }
                if n == 0 { break }
                var start = 0
                for k in 0..<n where buffer[k] == 0x0A {
                    if matches {
                        line.append(contentsOf: buffer[start..<k])
                        if try expected!.peek() == nil {
                            ahead.append(line)
                            aheadBytes += line.count + 1
                            matches = aheadBytes <= maximumAheadBytes
                        } else {
                            matches = try expected!.pop() == line
                        }
                        line.removeAll(keepingCapacity: true)
                    }
                    lines += 1
                    completeEnd = offset + Int64(k) + 1
                    start = k + 1
                }
                if matches && start < n {
                    line.append(contentsOf: buffer[start..<n])
                    // A line longer than the value it should be can stop being collected at once.
                    if line.count > (try expected!.peek()?.count ?? (maximumAheadBytes - aheadBytes)) { matches = false }
                }
                offset += Int64(n)
            }
            partial = offset > completeEnd
            if matches && partial {
                // Killed mid-write: the start of the next value (perhaps all of it, without its newline).
                // Past the expected values: part of a value printed ahead of the database, cut.
                guard let next = try expected!.peek() else { return }
                matches = line.count <= next.count && next.starts(with: line)
            }
        }
    }

    /// Writes every byte (an O_APPEND descriptor appends; a plain one writes at its offset, the end).
    public static func writeAll(fd: Int32, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw Failed(what: "complete", errno: errno) }
                done += n
            }
        }
    }
}
