import Foundation
import PaxosCore
import PaxosStore
import Testing

/// The `paxos` executable refuses bad input with one line and a non-zero exit, touching nothing (the
/// former scripts/bad-input-test.sh). What each layer refuses, and its exact words, is tested where it
/// lives (ClusterConfigTests, NodeStartupTests, PaxosStoreTests' OpeningTests); here, that every kind of
/// refusal reaches the user as one line, from the command line to the databases.
@Suite struct RefusalTests {
    static let roles = "clients   239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners  239.0.0.1 8000\n"

    // MARK: the command line, against a valid config in its own folder: nothing may appear there

    @Test(arguments: [
        ("unknown role", ["fooer", "1", "C"], "^paxos: unknown role 'fooer': expected acceptor, proposer, learner or client", 64),
        ("non-numeric id", ["acceptor", "x", "C"], "'x' is invalid for '<id>': the id must be a whole number", 64),
        ("id 0", ["acceptor", "0", "C"], "'0' is invalid for '<id>': the id must be a whole number", 64),
        ("negative id", ["learner", "-1", "C"], "^paxos: the id must be a whole number from 1 to 4294967295, not '-1'$", 64),
        ("id too large", ["proposer", "99999999999", "C"], "'99999999999' is invalid for '<id>'", 64),
        ("no arguments", [], "^paxos: missing role: expected acceptor, proposer, learner or client", 64),
        ("missing id", ["acceptor"], "missing expected argument '<id>'", 64),
        ("missing config", ["client", "1"], "missing expected argument '<config>'", 64),
        ("extra argument", ["acceptor", "1", "C", "surplus"], "unexpected argument", 64),
        ("unknown option", ["acceptor", "1", "C", "--frobnicate"], "unknown option '--frobnicate'", 64),
        ("bad log level", ["acceptor", "1", "C", "--log-level", "loud"], "'loud' is invalid for '--log-level <log-level>'.*trace, debug", 64),
        ("acceptor beyond count", ["acceptor", "4", "C"], "^paxos: error: acceptor id 4 is beyond acceptor-count 3 in .*/paxos.conf$", 1),
    ] as [(String, [String], String, Int32)])
    func commandLine(name: String, arguments: [String], phrase: String, status: Int32) throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        let config = scratch.path + "/paxos.conf"
        try expectRefusal([Paxos.binary] + arguments.map { $0 == "C" ? config : $0 }, phrase: phrase, status: status,
                          untouched: scratch.path)
    }

    @Test func keyFromEnvironmentTooShort() throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        var environment = ProcessInfo.processInfo.environment
        environment["PAXOS_KEY"] = "short"
        try expectRefusal([Paxos.binary, "learner", "1", scratch.path + "/paxos.conf"],
                          phrase: "^paxos: error: PAXOS_KEY must be at least 16 characters$", status: 1,
                          untouched: scratch.path, environment: environment)
    }

    /// A learner id past learner-count starts (the course's `run.sh -l 3` uses the four-line config) but says at
    /// once, at warning level, why it may not catch up later and which setting fixes it.
    @Test func learnerBeyondCountIsWarnedNotRefused() throws {
        let scratch = try Scratch()
        let base = 20_000 + Int(getpid() % 10_000) // a group and ports no other test uses
        let config = ["clients", "proposers", "acceptors", "learners"].enumerated()
            .map { "\($0.element) 239.255.77.\(1 + $0.offset) \(base + $0.offset)" }.joined(separator: "\n") + "\n"
        try scratch.write("paxos.conf", Array(config.utf8))
        let run = try Paxos.run([Paxos.binary, "learner", "3", scratch.path + "/paxos.conf", "--log-level", "warning"], timeout: 1.5)
        let stderr = String(decoding: run.stderr, as: UTF8.self)
        #expect(run.timedOut, "it runs: \(stderr)")
        #expect(stderr.contains("learner id 3 is beyond learner-count 2") && stderr.contains("'learner-count 3'"), "\(stderr)")
    }

    // MARK: the config file: acceptor 1 refuses it without creating paxos-state/ beside it

    @Test(arguments: [
        ("empty", [], "^paxos: error: .*/paxos.conf: missing line 'clients <multicast address> <port>'$"),
        ("binary garbage", [0x00, 0xFF, 0xFE, 0x80] + Array("garbage".utf8) + [0x01, 0x02, 0x0A, 0xC3, 0x28, 0x0A],
         "^paxos: error: .*/paxos.conf: not a text file$"),
        // The line quotes the setting; its control characters become spaces.
        ("control characters", Array((roles + "<ESC>[31mcolour<BEL><SOH> 1\n").utf8), "line 5: unknown setting ' \\[31mcolour  '$"),
        ("unknown setting", Array((roles + "acceptor-cuont 3\n").utf8), "line 5: unknown setting 'acceptor-cuont'$"),
        ("port 70000", Array("clients 239.0.0.1 70000\n".utf8), "line 1: '70000' is not a port"),
    ] as [(String, [UInt8], String)])
    func config(name: String, bytes: [UInt8], phrase: String) throws {
        let scratch = try Scratch()
        // Control characters are named <ESC>, <BEL>, <SOH> in the cases, so the test's report stays plain text.
        let controls: [String: UInt8] = ["<ESC>": 0x1B, "<BEL>": 0x07, "<SOH>": 0x01]
        var bytes = bytes
        for (name, byte) in controls {
            let pattern = Array(name.utf8)
            while let at = bytes.indices.first(where: { bytes[$0...].starts(with: pattern) }) {
                bytes.replaceSubrange(at..<at + pattern.count, with: [byte])
            }
        }
        try scratch.write("paxos.conf", bytes)
        try expectRefusal([Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf"], phrase: phrase, status: 1,
                          untouched: scratch.path)
    }

    /// A line over max-value-bytes is never sent: the client stops with one line naming its number and
    /// size, exit status 1, at once (no cluster runs here: nothing before it waits to be decided).
    @Test func aClientLineOverMaxValueBytes() throws {
        let scratch = try Scratch()
        let input = try scratch.folder("input")
        try scratch.write("input/values", [UInt8](repeating: 0x78, count: 2_000_000) + Array("\r\nnext\n".utf8))
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        try expectRefusal([Paxos.binary, "client", "1", scratch.path + "/paxos.conf", "--state", scratch.path + "/state",
                           "--log-level", "error", "--timeout", "8"],
                          phrase: "^paxos: error: line 1 is 2000000 bytes, over max-value-bytes 1048576$", status: 1,
                          untouched: input, stdin: input + "/values")
        try scratch.write("small.conf", Array((Self.roles + "max-value-bytes 100\n").utf8))
        try scratch.write("input/values", [UInt8](repeating: 0x79, count: 101))
        try expectRefusal([Paxos.binary, "client", "1", scratch.path + "/small.conf", "--state", scratch.path + "/state",
                           "--log-level", "error", "--timeout", "8"],
                          phrase: "^paxos: error: line 1 is 101 bytes, over max-value-bytes 100$", status: 1,
                          untouched: input, stdin: input + "/values")
    }

    @Test func configMissing() throws {
        let scratch = try Scratch()
        try expectRefusal([Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf"],
                          phrase: "^paxos: error: cannot read config file '.*/paxos.conf': no such file or directory$", status: 1,
                          untouched: scratch.path)
    }

    @Test func configIsADirectory() throws {
        let scratch = try Scratch()
        _ = try scratch.folder("paxos.conf")
        try expectRefusal([Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf"],
                          phrase: "^paxos: error: cannot read config file '.*/paxos.conf': it is a directory$", status: 1,
                          untouched: scratch.path)
    }

    /// Root reads a chmod 000 file anyway, so as root the binary runs as user nobody (setpriv).
    @Test func configUnreadable() throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        #expect(chmod(scratch.path + "/paxos.conf", 0) == 0)
        var command = [Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf"]
        if getuid() == 0 {
            let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
            let probe = try Paxos.run(nobody + ["/usr/bin/test", "-x", Paxos.binary])
            try #require(probe.status == 0, "user nobody (setpriv) cannot run \(Paxos.binary): every folder above it must be searchable")
            command = nobody + command
        }
        try expectRefusal(command, phrase: "^paxos: error: cannot read config file '.*/paxos.conf': permission denied$",
                          status: 1, untouched: scratch.path)
    }

    // MARK: databases and the state folder

    /// A state folder holding `file`: a fresh database of `kind`, changed by `tamper`.
    static func stateWith(_ scratch: Scratch, _ file: String, kind: StoreKind, tamper: (inout [UInt8]) -> Void = { _ in }) throws -> String {
        let state = try scratch.folder("state")
        let path = state + "/" + file
        switch kind {
        case .acceptor:
            let store = try AcceptorStore(path: path)
            try store.write(AcceptorWrite(promised: Ballot(round: 2, proposer: 1), accepted: (1...100).map {
                AcceptedEntry(instance: $0, ballot: Ballot(round: 2, proposer: 1), proposal: .noop)
            }))
            store.close()
        case .learner: try LearnerStore(path: path).close()
        case .proposer: try ProposerStore(path: path).close()
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        tamper(&bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return state
    }

    /// `value` big-endian at `offset` of a SQLite file's header (user_version at 60, application_id at 68).
    static func setHeader(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
        for k in 0..<4 { bytes[offset + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * k)) }
    }

    @Test(arguments: [
        ("random bytes", "acceptor", "acceptor-1.sqlite: not a SQLite database"),
        ("damaged pages", "acceptor", "acceptor-1.sqlite: .*(corrupt|malformed)"),
        ("newer schema", "learner", "learner-1.sqlite has schema version 99, newer than this binary supports"),
        ("wrong kind", "acceptor", "acceptor-1.sqlite is a paxos learner database, not an acceptor database"),
        ("foreign", "proposer", "proposer-1.sqlite is a SQLite database but not a paxos proposer database"),
    ])
    func database(name: String, role: String, phrase: String) throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        let file = "\(role)-1.sqlite"
        var generator = SplitMix64(seed: 7)
        let state: String = switch name {
        case "random bytes":
            try Self.stateWith(scratch, file, kind: .acceptor) { b in
                b = (0..<16_384).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
        case "damaged pages":  // a valid header (a paxos acceptor database, schema 1) over garbage pages
            try Self.stateWith(scratch, file, kind: .acceptor) { b in
                for i in 200..<4000 { b[i] = UInt8.random(in: 0...255, using: &generator) }
                for i in 4096..<b.count { b[i] = UInt8.random(in: 0...255, using: &generator) }
            }
        case "newer schema": try Self.stateWith(scratch, file, kind: .learner) { Self.setHeader(&$0, at: 60, 99) }
        case "wrong kind": try Self.stateWith(scratch, file, kind: .learner)
        default: try Self.stateWith(scratch, file, kind: .proposer) { Self.setHeader(&$0, at: 68, 0x1234_5678) }
        }
        try expectRefusal([Paxos.binary, role, "1", scratch.path + "/paxos.conf", "--state", state],
                          phrase: "^paxos: error: .*" + phrase, status: 1, untouched: scratch.path)
    }

    @Test func stateFolderIsAFile() throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        try scratch.write("state", Array("not a folder\n".utf8))
        try expectRefusal([Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf", "--state", scratch.path + "/state"],
                          phrase: "^paxos: error: cannot create state folder '.*/state'", status: 1, untouched: scratch.path)
    }

    /// chmod does not stop root: these bind a file or folder read-only inside a private mount namespace
    /// (unshare -m), so the host's mounts are never touched. Without root, NodeStartupTests and OpeningTests
    /// check the same refusals with chmod.
    static let canBindReadOnly = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")

    static func readOnly(_ path: String, _ command: [String]) -> [String] {
        ["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
         #"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#, "sh", path] + command
    }

    @Test(.enabled(if: canBindReadOnly, "needs root and unshare (a private mount namespace)"))
    func databaseReadOnly() throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        let state = try Self.stateWith(scratch, "acceptor-1.sqlite", kind: .acceptor)
        try expectRefusal(Self.readOnly(state + "/acceptor-1.sqlite",
                                        [Paxos.binary, "acceptor", "1", scratch.path + "/paxos.conf", "--state", state]),
                          phrase: "^paxos: error: .*acceptor-1.sqlite.*read-only", status: 1, untouched: scratch.path)
    }

    @Test(.enabled(if: canBindReadOnly, "needs root and unshare (a private mount namespace)"))
    func stateFolderNotWritable() throws {
        let scratch = try Scratch()
        try scratch.write("paxos.conf", Array(Self.roles.utf8))
        let state = try Self.stateWith(scratch, "learner-1.sqlite", kind: .learner)
        try expectRefusal(Self.readOnly(state, [Paxos.binary, "learner", "1", scratch.path + "/paxos.conf", "--state", state]),
                          phrase: "^paxos: error: state folder '.*/state' is not writable$", status: 1, untouched: scratch.path)
    }
}
