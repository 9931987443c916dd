import Foundation
import PaxosCheck
import Testing

/// `paxos check --wait` on files in a temporary folder.
@Suite struct LearnerWaitTests {
    let dir = NSTemporaryDirectory() + "paxos-wait-\(UUID().uuidString)"

    func file(_ name: String, _ text: String) -> String {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: dir + "/" + name, contents: Data(text.utf8))
        return dir + "/" + name
    }

    @Test func doneWhenEveryFileHasTheTarget() {
        let now = LearnerWait.nowMs()
        var wait = LearnerWait(files: [file("learner1.log", "1\n2\n"), file("learner2.log", "1\n2\n3\n")],
                               target: 2, since: now - 1500, deadline: now + 5000)
        guard case .done(let ms) = wait.run() else { Issue.record("not done"); return }
        #expect(ms >= 1500 && ms < 4000)
        // One file short: only --any is satisfied; the other times out at the deadline.
        wait.target = 3
        wait.deadline = LearnerWait.nowMs() + 300
        #expect(wait.run() == .timedOut)
        wait.any = true
        if case .done = wait.run() {} else { Issue.record("--any not done") }
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aFileThatGrowsEndsTheWait() {
        let path = file("learn1", "")
        let now = LearnerWait.nowMs()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
            _ = FileManager.default.createFile(atPath: path, contents: Data("7\n".utf8))
        }
        var wait = LearnerWait(files: [path, dir + "/absent"], target: 1, since: now, deadline: now + 10_000)
        wait.any = true
        wait.settle = 200
        guard case .done(let ms) = wait.run() else { Issue.record("not done"); return }
        #expect(ms >= 250 && LearnerWait.nowMs() - now >= ms + 200)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func goneWhenNoWatchedProcessRuns() {
        let now = LearnerWait.nowMs()
        var wait = LearnerWait(files: [file("learn1", "")], target: 1, since: now, deadline: now + 10_000)
        // A process that has exited and been reaped: its id names nothing.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exit 0"]
        try? p.run()
        p.waitUntilExit()
        wait.pids = [p.processIdentifier]
        #expect(wait.run() == .gone)
        // This process runs: no "gone", the deadline ends it.
        wait.pids = [getpid()]
        wait.deadline = LearnerWait.nowMs() + 200
        #expect(wait.run() == .timedOut)
        #expect(wait.progressText([1, 2], at: now + 1234) == "[1.2s] learned: learn1 1/1")
        try? FileManager.default.removeItem(atPath: dir)
    }
}
