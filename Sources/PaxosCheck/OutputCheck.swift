import Foundation
import PaxosStore

/// The course's checks on a finished run's files (`paxos check`), on the shared ``Checkers``:
///
///   Test 1  all learner outputs are byte-identical
///   Test 2  every learned line was proposed (and no output ends in a cut-off line)
///   Test 3  each learner's set of distinct values equals the set proposed
///   Test 4  exactly once: each learner's multiset of lines equals the multiset of all submissions
///           (values are random 0..32767, so duplicates are frequent and each must appear as often as
///           it was submitted)
///   Test 5  each learner's database (its values in position order) equals its output byte for byte
/// With `expectEmpty` (one acceptor of three: no quorum) Tests 3 and 4 become
///   Test 3  nothing learned: every learner output is empty
///
/// One PASS/FAIL/SKIP line per test, then "N passed, M failed".
public struct OutputCheck {
    /// One learner: its output file and (if any) its database.
    public struct Learner: Equatable {
        public var output: String
        public var database: String?
        public init(output: String, database: String?) {
            self.output = output
            self.database = database
        }
    }

    public var values: [String]
    public var learners: [Learner]
    public var expectEmpty = false
    /// Why Test 5 is skipped (no state folder given or found), nil to run it.
    public var skipDatabases: String?
    /// The folder named in "no values<i>.log in DIR" (the LOGDIR form), nil when the files were named.
    public var logdir: String?

    public init(values: [String], learners: [Learner], expectEmpty: Bool = false, skipDatabases: String? = nil) {
        self.values = values
        self.learners = learners
        self.expectEmpty = expectEmpty
        self.skipDatabases = skipDatabases
    }

    public struct UsageError: Error, CustomStringConvertible {
        public var description: String
    }

    public static let usage = """
        usage: paxos check [--expect-empty] [LOGDIR]
               paxos check [--expect-empty] [--state DIR] --values FILE... --learned FILE... [--databases FILE...]
               paxos check --prefix FILE...
               paxos check --wait N [--any] [--since MS] [--deadline MS] [--settle MS] [--progress [--total N]]
                           --learned FILE... [--pids PID...]
        """

    /// What the command line asks for: the course's checks, or only agreement on outputs still growing.
    public enum Request {
        case check(OutputCheck)
        case prefix([String])
        case wait(LearnerWait)
        case help
    }

    /// Parses check.sh's command line: `[--expect-empty] [LOGDIR]` reads LOGDIR (default logs) as run.sh
    /// leaves it (values<i>.log, learner<i>.log, paxos-state/learner-<i>.sqlite); `--values FILE...
    /// --learned FILE...` names the files, the k-th learned file belonging to learner id k (its database
    /// --state DIR/learner-<k>.sqlite, or the k-th of --databases).
    public static func parse(_ arguments: [String]) throws -> Request {
        var expectEmpty = false, prefix = false, any = false, progress = false
        var state: String?, logdir: String?
        var numbers: [String: Int] = [:]
        var lists: [String: [String]] = [:]
        var list: String?
        var rest = arguments[...]
        while let a = rest.popFirst() {
            switch a {
            case "--expect-empty": expectEmpty = true
            case "--prefix": prefix = true; list = "learned"
            case "--state":
                guard let dir = rest.popFirst() else { throw UsageError(description: "--state needs a folder") }
                state = dir
            case "--values", "--learned", "--databases", "--pids": list = String(a.dropFirst(2))
            case "--any": any = true
            case "--progress": progress = true
            case "--wait", "--since", "--deadline", "--settle", "--total":
                guard let text = rest.popFirst(), let n = Int(text), n >= 0 else {
                    throw UsageError(description: "\(a) needs a whole number")
                }
                numbers[String(a.dropFirst(2))] = n
            case "-h", "--help": return .help
            case _ where a.hasPrefix("-") && a.count > 1: throw UsageError(description: "unknown option \(a)")
            default:
                if let list {
                    lists[list, default: []].append(a)
                } else {
                    guard logdir == nil else { throw UsageError(description: "give one LOGDIR") }
                    logdir = a
                }
            }
        }
        let values = lists["values"] ?? [], learned = lists["learned"] ?? [], databases = lists["databases"] ?? []
        if let target = numbers["wait"] {
            let pids = (lists["pids"] ?? []).compactMap { Int32($0) }
            guard !learned.isEmpty, values.isEmpty, databases.isEmpty, logdir == nil, state == nil, !expectEmpty, !prefix,
                  pids.count == (lists["pids"] ?? []).count else {
                throw UsageError(description: "--wait takes --learned files and its own options only")
            }
            let now = LearnerWait.nowMs()
            var wait = LearnerWait(files: learned, target: target, since: numbers["since"] ?? now,
                                   deadline: numbers["deadline"] ?? Int.max)
            wait.any = any
            wait.settle = numbers["settle"] ?? 0
            wait.total = numbers["total"]
            wait.pids = pids
            wait.progress = progress ? FileHandle.standardError : nil
            return .wait(wait)
        }
        guard numbers.isEmpty, lists["pids"] == nil, !any, !progress else {
            throw UsageError(description: "--since, --deadline, --settle, --total, --any, --progress and --pids go with --wait")
        }
        if prefix {
            guard !learned.isEmpty, values.isEmpty, databases.isEmpty, logdir == nil, state == nil, !expectEmpty else {
                throw UsageError(description: "--prefix takes output files and nothing else")
            }
            return .prefix(learned)
        }
        if !values.isEmpty || !learned.isEmpty || !databases.isEmpty {
            guard logdir == nil else { throw UsageError(description: "give either LOGDIR or --values/--learned") }
            guard !values.isEmpty, !learned.isEmpty else { throw UsageError(description: "--values and --learned both need files") }
            guard databases.isEmpty || (databases.count == learned.count && state == nil) else {
                throw UsageError(description: "--databases needs one file per --learned file, and no --state")
            }
            let learners = learned.enumerated().map { k, output in
                Learner(output: output, database: databases.isEmpty ? state.map { "\($0)/learner-\(k + 1).sqlite" } : databases[k])
            }
            var check = OutputCheck(values: values, learners: learners, expectEmpty: expectEmpty)
            if databases.isEmpty { check.skipDatabases = Self.stateProblem(state) }
            return .check(check)
        }
        let dir = logdir ?? "logs"
        guard isDirectory(dir) else { throw UsageError(description: "no such directory: \(dir)") }
        let stateDir = state ?? "\(dir)/paxos-state"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        var ids = numbered(names, prefix: "values", suffix: ".log").map(\.id)
        let valueFiles = ids.map { "\(dir)/values\($0).log" }
        ids = numbered(names, prefix: "learner", suffix: ".log").map(\.id)
        // A learner with a database but no output file is a missing file, not an absent learner.
        let dbNames = (try? FileManager.default.contentsOfDirectory(atPath: stateDir)) ?? []
        for (id, _) in numbered(dbNames, prefix: "learner-", suffix: ".sqlite") where !ids.contains(id) { ids.append(id) }
        var check = OutputCheck(values: valueFiles, learners: ids.map {
            Learner(output: "\(dir)/learner\($0).log", database: "\(stateDir)/learner-\($0).sqlite")
        }, expectEmpty: expectEmpty, skipDatabases: Self.stateProblem(stateDir))
        check.logdir = dir
        return .check(check)
    }

    static func stateProblem(_ state: String?) -> String? {
        guard let state else { return "no state directory given (--state DIR)" }
        return isDirectory(state) ? nil : "no state directory \(state)"
    }

    static func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    /// PREFIX<i>SUFFIX names, by numeric i.
    static func numbered(_ names: [String], prefix: String, suffix: String) -> [(id: Int, name: String)] {
        names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
            let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
            guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), let id = Int(digits) else { return nil }
            return (id, name)
        }.sorted { $0.0 < $1.0 }
    }

    // MARK: running

    /// The verdict: its lines (the last is "N passed, M failed") and whether everything passed.
    public struct Verdict {
        public var lines: [String] = []
        public var passed = 0
        public var failed = 0
        public var ok: Bool { failed == 0 }
        public init() {}
        mutating func pass(_ s: String) { lines.append("PASS " + s); passed += 1 }
        mutating func fail(_ s: String) { lines.append("FAIL " + s); failed += 1 }
        mutating func skip(_ s: String) { lines.append("SKIP " + s) }
        mutating func test(_ n: Int, _ problems: [String], _ success: @autoclosure () -> String) {
            if problems.isEmpty { pass("Test \(n): " + success()) } else { fail("Test \(n): " + problems.joined(separator: "; ")) }
        }
        mutating func finish() -> Verdict { lines.append("\(passed) passed, \(failed) failed"); return self }
    }

    /// A file's bytes and lines; a missing file reads as empty.
    struct File {
        var name: String
        var path: String
        var bytes: [UInt8]
        /// The lines as `sort` sees them: a last line without newline counts too.
        var lines: [[UInt8]]
        var newlines: Int { bytes.count(where: { $0 == 0x0A }) }

        init(_ path: String) {
            self.path = path
            name = (path as NSString).lastPathComponent
            if let data = FileManager.default.contents(atPath: path) {
                bytes = [UInt8](data)
            } else {
                self.path = "/dev/null"
                bytes = []
            }
            lines = OutputCheck.lines(bytes)
        }
    }

    static func lines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }

    public func run() -> Verdict {
        var v = Verdict()
        let missing = (values + learners.map(\.output)).filter { !FileManager.default.fileExists(atPath: $0) }
        if values.isEmpty { v.fail("inputs: no values<i>.log in \(logdir ?? "")") }
        if learners.isEmpty { v.fail("inputs: no learner<i>.log in \(logdir ?? "")") }
        if !missing.isEmpty { v.fail("inputs: missing \(missing.joined(separator: " "))") }
        guard !values.isEmpty, !learners.isEmpty else { return v.finish() }

        let proposed = values.flatMap { File($0).lines }
        let proposedSet = Set(proposed)
        let outputs = learners.map { File($0.output) }

        // Test 1: byte-identical outputs
        var problems: [String] = []
        for o in outputs.dropFirst() {
            if let detail = Self.cmp(outputs[0], o) {
                problems.append("\(o.name) differs from \(outputs[0].name) (\(o.newlines) vs \(outputs[0].newlines) lines; \(detail))")
            }
        }
        v.test(1, problems, outputs.count == 1 ? "identical outputs (only one learner)"
               : "all \(outputs.count) learner outputs are identical (\(outputs[0].newlines) lines)")

        // Test 2: validity; a last line without newline is a cut-off write
        problems = []
        for o in outputs {
            let unproposed = Checkers.unsubmitted(o.lines, submitted: proposedSet).sorted(by: Self.byteOrder)
            if !unproposed.isEmpty {
                problems.append("\(o.name): \(unproposed.count) distinct values never proposed (e.g. \(Self.examples(unproposed)))")
            }
            if o.bytes.last.map({ $0 != 0x0A }) == true { problems.append("\(o.name): last line has no newline (cut-off write)") }
        }
        v.test(2, problems, "every learned value was proposed")

        if expectEmpty {
            problems = outputs.filter { !$0.lines.isEmpty }.map { "\($0.name) has \($0.lines.count) lines" }
            if problems.isEmpty { v.pass("Test 3: nothing learned, as expected without a quorum") }
            else { v.fail("Test 3: expected nothing learned, but " + problems.joined(separator: "; ")) }
        } else {
            // Test 3: completeness on distinct values
            problems = []
            for o in outputs {
                let learned = Set(o.lines)
                let unlearned = Checkers.undelivered(proposedSet, delivered: learned).sorted(by: Self.byteOrder)
                if !unlearned.isEmpty {
                    problems.append("\(o.name): \(unlearned.count) proposed values never learned (e.g. \(Self.examples(unlearned)))")
                } else if learned != proposedSet {
                    problems.append("\(o.name): learned values never proposed (see Test 2)")
                }
            }
            v.test(3, problems, "every learner learned the \(proposedSet.count) distinct proposed values")

            // Test 4: exactly once, as multisets
            problems = []
            for o in outputs {
                let (missing, surplus) = Checkers.multisetDifference(delivered: o.lines, submitted: proposed)
                guard !missing.isEmpty || !surplus.isEmpty else { continue }
                func described(_ counts: [[UInt8]: Int], _ what: String) -> String {
                    let total = counts.values.reduce(0, +)
                    guard total > 0 else { return "0 \(what)" }
                    let sorted = counts.keys.sorted(by: Self.byteOrder).flatMap { Array(repeating: $0, count: counts[$0]!) }
                    return "\(total) \(what) (e.g. \(Self.examples(sorted)))"
                }
                problems.append("\(o.name): \(o.lines.count) lines for \(proposed.count) submissions, "
                                + "\(described(missing, "deliveries missing")), \(described(surplus, "surplus"))")
            }
            v.test(4, problems, "every learner delivered each of the \(proposed.count) submissions exactly once")
        }

        // Test 5: database = output
        if let skipDatabases {
            v.skip("Test 5: " + skipDatabases)
            return v.finish()
        }
        problems = []
        var checked = 0
        for (learner, o) in zip(learners, outputs) {
            guard let db = learner.database, FileManager.default.fileExists(atPath: db) else {
                // A learner that printed nothing may never have written its database.
                if !o.bytes.isEmpty { problems.append("\(o.name): no database \(learner.database ?? "")") }
                continue
            }
            let rows: [[UInt8]]
            do {
                rows = try LearnerStore.learnedValues(readingOnly: db)
            } catch {
                problems.append("\(o.name): cannot read \(db): \(error)")
                continue
            }
            checked += 1
            var dbFile = File("/dev/null")
            dbFile.name = db
            dbFile.path = db
            dbFile.bytes = rows.flatMap { $0 + [0x0A] }
            dbFile.lines = rows
            if let detail = Self.cmp(dbFile, o) {
                problems.append("\(o.name) differs from \(db) (\(rows.count) rows vs \(o.newlines) lines; \(detail))")
            }
        }
        if !problems.isEmpty {
            v.fail("Test 5: " + problems.joined(separator: "; "))
        } else if checked == 0 {
            v.skip("Test 5: no learner databases in \(learners.first?.database.map { ($0 as NSString).deletingLastPathComponent } ?? "")")
        } else {
            v.pass("Test 5: \(checked) learner database(s) equal the learner outputs")
        }
        return v.finish()
    }

    /// Agreement on outputs that may still be growing: their complete lines must be prefixes of one
    /// sequence. nil when they are; otherwise one line naming the stray output.
    public static func prefixProblem(_ paths: [String]) -> String? {
        let outputs = paths.map { path -> [[UInt8]] in
            let bytes = FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
            // Only complete lines: a learner may be between two writes.
            return lines(Array(bytes[..<(bytes.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0)]))
        }
        guard let d = Checkers.prefixDisagreement(outputs) else { return nil }
        let longest = outputs.indices.max { (outputs[$0].count, -$0) < (outputs[$1].count, -$1) }!
        let name = { (paths[$0] as NSString).lastPathComponent }
        return "\(name(d.output))'s \(outputs[d.output].count) lines are not a prefix of \(name(longest))'s output: line \(d.position + 1) is '\(String(decoding: d.found, as: UTF8.self))', not '\(String(decoding: d.expected, as: UTF8.self))'"
    }

    static func byteOrder(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }

    /// Up to three values, comma-separated.
    static func examples(_ values: [[UInt8]]) -> String {
        values.prefix(3).map { String(decoding: $0, as: UTF8.self) }.joined(separator: ", ")
    }

    /// What `LC_ALL=C cmp A B` says (after its last ": "), nil when the files are identical.
    static func cmp(_ a: File, _ b: File) -> String? {
        guard a.bytes != b.bytes else { return nil }
        let common = min(a.bytes.count, b.bytes.count)
        if let i = (0..<common).first(where: { a.bytes[$0] != b.bytes[$0] }) {
            return "char \(i + 1), line \(a.bytes[..<i].count(where: { $0 == 0x0A }) + 1)"
        }
        let short = a.bytes.count < b.bytes.count ? a : b
        guard let last = short.bytes.last else { return "EOF on \(short.path) which is empty" }
        let newlines = short.newlines
        return last == 0x0A ? "EOF on \(short.path) after byte \(common), line \(newlines)"
                            : "EOF on \(short.path) after byte \(common), in line \(newlines + 1)"
    }
}
