import Foundation

/// `paxos check --wait`: watches learners' output files grow until they hold a number of lines, for the
/// scripts that run a cluster (they only orchestrate; the polling and the progress line are here).
///
/// Every `interval` it counts each file's lines (newlines; an absent file has none). Done when every file
/// (or, with `any`, some file) has `target` lines (reached when the last of those lines was written); it then
/// keeps watching `settle` ms more, but not past the deadline. It gives up at the deadline, or when none of `pids` is alive any more.
public struct LearnerWait {
    public enum Outcome: Equatable {
        /// Milliseconds after `since` when the target was first reached.
        case done(Int)
        case timedOut
        /// None of the watched processes runs any more.
        case gone
    }

    public var files: [String]
    public var target: Int
    public var any = false
    /// Epoch milliseconds: the progress clock's origin, and what `done` is measured from.
    public var since: Int
    public var deadline: Int
    public var settle = 0
    public var pids: [Int32] = []
    public var interval = 0.1
    /// The total shown in the progress line (default: the target).
    public var total: Int?
    /// Where the progress line goes (a terminal: rewritten in place; otherwise a line every 5 s), nil for none.
    public var progress: FileHandle?

    public init(files: [String], target: Int, since: Int, deadline: Int) {
        self.files = files
        self.target = target
        self.since = since
        self.deadline = deadline
    }

    public static func nowMs() -> Int { Int(Date().timeIntervalSince1970 * 1000) }

    public static func lineCount(_ path: String) -> Int {
        guard let data = FileManager.default.contents(atPath: path) else { return 0 }
        // memchr: a closure per byte is slow in debug builds, where the tests count megabytes every 0.1 s.
        return data.withUnsafeBytes { bytes in
            guard var at = bytes.baseAddress else { return 0 }
            let end = at + bytes.count
            var lines = 0
            while at < end, let newline = memchr(at, 0x0A, end - at) {
                lines += 1
                at = UnsafeRawPointer(newline) + 1
            }
            return lines
        }
    }

    /// "[1.2s] learned: learner1 5/10 learner2 7/10" (file names without ".log").
    public func progressText(_ counts: [Int], at now: Int) -> String {
        let elapsed = max(0, now - since)
        let names = files.map { ($0 as NSString).lastPathComponent.replacingOccurrences(of: ".log", with: "") }
        return "[\(elapsed / 1000).\(elapsed % 1000 / 100)s] learned:"
            + zip(names, counts).map { " \($0) \($1)/\(total ?? target)" }.joined()
    }

    /// When the file was last written, in epoch milliseconds.
    static func modified(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
            .map { Int($0.timeIntervalSince1970 * 1000) }
    }

    /// A process that still runs (a zombie, exited but not yet reaped by its parent, does not).
    static func alive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return !stat[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// The progress line is a courtesy: a reader that went away (`run.sh | head -1`, the write fails with EPIPE
    /// and FileHandle.write would trap) must not end the wait.
    static func bestEffort(_ handle: FileHandle, _ text: String) {
        try? handle.write(contentsOf: Data(text.utf8))
    }

    public func run() -> Outcome {
        let tty = progress.map { isatty($0.fileDescriptor) == 1 } ?? false
        var lastPlain = 0, shown = false, doneAt: Int?
        func show(_ counts: [Int], _ now: Int) {
            guard let progress else { return }
            if tty {
                Self.bestEffort(progress, "\r\(progressText(counts, at: now))\u{1B}[K")
                shown = true
            } else if now - lastPlain >= 5000 {
                Self.bestEffort(progress, "\(progressText(counts, at: now))\n")
                lastPlain = now
            }
        }
        defer { if shown, let progress { Self.bestEffort(progress, "\n") } }
        while true {
            let counts = files.map(Self.lineCount)
            let now = Self.nowMs()
            show(counts, now)
            let reached = any ? counts.contains { $0 >= target } : counts.allSatisfy { $0 >= target }
            if doneAt == nil && reached {
                // The moment the target was reached is when the last needed line was written (files that stop
                // at the target stop changing): the file times say it more precisely than the polling does.
                let times = zip(files, counts).filter { $0.1 >= target }.compactMap { Self.modified($0.0) }
                let written = (any ? times.min() : times.max()) ?? now
                doneAt = min(now, max(written, since)) - since
            }
            if let doneAt, now >= min(since + doneAt + settle, deadline) { return .done(doneAt) }
            if now >= deadline { return .timedOut }
            if !pids.isEmpty && !pids.contains(where: Self.alive) { return .gone }
            Thread.sleep(forTimeInterval: interval)
        }
    }
}
