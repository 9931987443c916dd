#if canImport(Glibc)
import Glibc
#endif

/// Completes a learner's output file after a crash.
///
/// A learner commits values before it prints them, so kill -9 between the two leaves values in the
/// database that never reached the output, and a kill in the middle of a write can leave half a line.
/// When standard output is a regular file that already holds part of the sequence (the usual
/// `learner.sh 1 conf >> learn1` after a restart), the restarted learner cuts a half-written last line
/// and appends exactly the values the file lacks, so the file holds the whole sequence once.
/// A fresh or empty file is left alone: a restarted learner resumes after its last delivered value.
public enum OutputRepair {
    public enum Outcome: Equatable, Sendable {
        /// Not a regular file, empty, or already complete.
        case untouched
        /// `appended` values were written after `kept` complete lines (a partial line was cut if `cut`).
        case completed(kept: UInt64, appended: Int, cut: Bool)
        /// The file holds more lines than were delivered: it is not this learner's output.
        case foreign(lines: UInt64)
    }

    /// - Parameters:
    ///   - fd: the output's file descriptor (1 for standard output).
    ///   - delivered: how many values the learner delivered (its next position minus one).
    ///   - values: the delivered values from a position on (1-based), from the learner's database.
    public static func repair(fd: Int32, delivered: UInt64, values: (UInt64) throws -> [[UInt8]]) throws -> Outcome {
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return .untouched }
        // Read the file through a separate descriptor: fd may be write-only (an `>>` redirection).
        let reader = open("/proc/self/fd/\(fd)", O_RDONLY | O_CLOEXEC)
        guard reader >= 0 else { return .untouched }
        defer { close(reader) }
        var lines: UInt64 = 0
        var lastNewlineEnd: Int64 = 0
        var offset: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            for k in 0..<n where buffer[k] == 0x0A {
                lines += 1
                lastNewlineEnd = offset + Int64(k) + 1
            }
            offset += Int64(n)
        }
        if lines > delivered { return .foreign(lines: lines) }
        let cut = offset > lastNewlineEnd
        guard lines < delivered || cut else { return .untouched }
        if cut {
            guard ftruncate(fd, off_t(lastNewlineEnd)) == 0 else { return .untouched }
        }
        lseek(fd, 0, SEEK_END)  // a descriptor without O_APPEND would otherwise write over the start
        let missing = lines < delivered ? try values(lines + 1) : []
        var bytes: [UInt8] = []
        for v in missing {
            bytes.append(contentsOf: v)
            bytes.append(0x0A)
        }
        try writeAll(fd: fd, bytes: bytes)
        return .completed(kept: lines, appended: missing.count, cut: cut)
    }

    struct WriteFailed: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { "cannot complete the learner's output: \(String(cString: strerror(errno)))" }
    }

    /// Writes every byte (an O_APPEND descriptor appends; a plain one writes at its offset, the end).
    public static func writeAll(fd: Int32, bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw WriteFailed(errno: errno) }
                done += n
            }
        }
    }
}
