import ArgumentParser
import Foundation
import PaxosCheck
import PaxosCommandLine

/// `paxos check`: the course's checks on a finished run's files (formerly scripts/check.sh), on the
/// shared checkers of PaxosTesting. Verdict lines on standard output; exit 0 all passed, 1 a test failed,
/// 2 usage error.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a run's files: identical outputs, validity, completeness, exactly once, learn database = output.",
        discussion: OutputCheck.usage + """


            The first form reads LOGDIR (default: logs) as scripts/run.sh leaves it: values<i>.log (what client i
            submitted), learner<i>.log (what learner i printed), paxos-state/learner-<i>.sqlite. The second names
            the files (e.g. a course tests folder: --values prop1 prop2 --learned learn1 learn2 --state paxos-state);
            the k-th --learned file belongs to learner id k, whose database is DIR/learner-<k>.sqlite or the k-th
            --databases file. --prefix only checks that outputs (possibly still growing) are prefixes of one sequence.
            --wait N watches the --learned files until each (--any: one) holds N lines, then --settle MS more;
            times are epoch milliseconds; prints "done MS" (after --since, exit 0), "timeout" (at --deadline,
            exit 1) or "gone" (none of --pids runs any more, exit 3); --progress shows the counts (of --total) on stderr.

              Test 1  all learner outputs are byte-identical
              Test 2  every learned value was proposed (and no output ends in a cut-off line)
              Test 3  each learner's set of distinct values equals the set proposed
              Test 4  exactly once: each learner's multiset of lines equals the multiset of all submissions
              Test 5  each learner's database equals its output byte for byte
            --expect-empty (one acceptor of three: no quorum) replaces Tests 3 and 4 with
              Test 3  nothing learned: every learner output is empty

            Prints one PASS/FAIL/SKIP line per test, then "N passed, M failed".
            Exit status: 0 all passed, 1 a test failed, 2 usage error.
            """)

    @Argument(parsing: .captureForPassthrough, help: "See above.")
    var arguments: [String] = []

    func run() throws {
        let request: OutputCheck.Request
        do {
            request = try OutputCheck.parse(arguments)
        } catch {
            try? FileHandle.standardError.write(contentsOf: Data("paxos: check: \(error) (see 'paxos check --help')\n".utf8))
            throw ExitCode(2)
        }
        switch request {
        case .help:
            print(Self.helpMessage())
        case .prefix(let files):
            if let problem = OutputCheck.prefixProblem(files) {
                print("FAIL prefix: \(problem)")
                throw ExitCode(1)
            }
            print("PASS prefix: the \(files.count) outputs are prefixes of one sequence")
        case .wait(let wait):
            switch wait.run() {
            case .done(let ms): print("done \(ms)")
            case .timedOut: print("timeout"); throw ExitCode(1)
            case .gone: print("gone"); throw ExitCode(3)
            }
        case .check(let check):
            let verdict = check.run()
            print(verdict.lines.joined(separator: "\n"))
            if !verdict.ok { throw ExitCode(1) }
        }
    }
}
