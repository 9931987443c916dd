import Foundation
import PaxosCore
import Testing
@testable import PaxosNode

/// `NodeStartup`'s refusals before a node runs: the config file, the key, the id, the state folder and its
/// lock. Each names what is wrong in one line and leaves the folder as it was.
@Suite struct NodeStartupTests {
    static let roles = "clients 239.0.0.1 5000\nproposers 239.0.0.1 6000\nacceptors 239.0.0.1 7000\nlearners 239.0.0.1 8000\n"

    /// A fresh folder holding `paxos.conf` with `text` (nil: no config file).
    final class Folder {
        let path: String
        var config: String { path + "/paxos.conf" }

        init(config text: String? = NodeStartupTests.roles) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("paxos-startup-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
            if let text { try Data(text.utf8).write(to: URL(fileURLWithPath: config)) }
        }

        deinit {
            chmod(path, 0o755)
            try? FileManager.default.removeItem(atPath: path)
        }

        /// Every name under the folder with its type, permissions and bytes, to show nothing changed.
        func snapshot() throws -> [String] {
            let fm = FileManager.default
            var out: [String] = []
            for name in (fm.subpaths(atPath: path) ?? []).sorted() where !name.hasSuffix(".lock") {
                let attributes = try fm.attributesOfItem(atPath: path + "/" + name)
                let bytes = attributes[.type] as? FileAttributeType == .typeRegular
                    ? (fm.contents(atPath: path + "/" + name)?.base64EncodedString() ?? "unreadable") : ""
                out.append("\(name) \(attributes[.type] ?? "") \(attributes[.posixPermissions] ?? "") \(bytes)")
            }
            return out
        }
    }

    /// Starting `role` `id` on `folder`'s config fails with exactly `message` and touches nothing.
    func refuses(_ folder: Folder, _ message: String, role: Role = .acceptor, id: UInt32 = 1, configPath: String? = nil,
                 environment: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try folder.snapshot()
        let error = #expect(throws: StartupError.self, sourceLocation: sourceLocation) {
            try NodeStartup(role: role, id: id, configPath: configPath ?? folder.config, environment: environment)
        }
        #expect(error?.description == message, sourceLocation: sourceLocation)
        #expect(try folder.snapshot() == before, sourceLocation: sourceLocation)
    }

    @Test func configMissing() throws {
        let folder = try Folder(config: nil)
        try refuses(folder, "cannot read config file '\(folder.config)': No such file or directory")
    }

    @Test func configIsADirectory() throws {
        let folder = try Folder(config: nil)
        try FileManager.default.createDirectory(atPath: folder.config, withIntermediateDirectories: false)
        try refuses(folder, "cannot read config file '\(folder.config)': it is a directory")
    }

    @Test func configIsAFIFO() throws {
        let folder = try Folder(config: nil)
        #expect(mkfifo(folder.config, 0o644) == 0)
        try refuses(folder, "cannot read config file '\(folder.config)': it is not a regular file")
    }

    // Root reads a chmod 000 file anyway: as root, the CLI tests run this case as user nobody.
    @Test(.enabled(if: getuid() != 0, "root reads any file"))
    func configUnreadable() throws {
        let folder = try Folder()
        #expect(chmod(folder.config, 0) == 0)
        try refuses(folder, "cannot read config file '\(folder.config)': Permission denied")
    }

    @Test func configNotText() throws {
        let folder = try Folder(config: nil)
        try Data([0x00, 0xFF, 0xFE, 0x80] + Array("garbage".utf8) + [0x01, 0x02, 0x0A, 0xC3, 0x28, 0x0A])
            .write(to: URL(fileURLWithPath: folder.config))
        try refuses(folder, "\(folder.config): not a text file")
    }

    @Test func configLineIsNamedWithTheFile() throws {
        let folder = try Folder(config: Self.roles + "acceptor-cuont 3\n")
        try refuses(folder, "\(folder.config): line 5: unknown setting 'acceptor-cuont'")
    }

    @Test func keyFromEnvironmentTooShort() throws {
        let folder = try Folder()
        try refuses(folder, "PAXOS_KEY must be at least 16 characters", environment: ["PAXOS_KEY": "123456789012345"])
        // Empty is unset; sixteen characters are enough, and take precedence over the config's key.
        #expect(try NodeStartup(role: .learner, id: 1, configPath: folder.config, environment: ["PAXOS_KEY": ""]).authenticator == nil)
        #expect(try NodeStartup(role: .learner, id: 1, configPath: folder.config,
                                environment: ["PAXOS_KEY": "1234567890123456"]).authenticator != nil)
    }

    @Test func acceptorBeyondCount() throws {
        let folder = try Folder()
        try refuses(folder, "acceptor id 4 is beyond acceptor-count 3 in \(folder.config)", id: 4)
        let five = try Folder(config: Self.roles + "acceptor-count 5\n")
        #expect(try NodeStartup(role: .acceptor, id: 5, configPath: five.config, environment: [:]).id == 5)
        // Only acceptors are counted.
        #expect(try NodeStartup(role: .proposer, id: 4, configPath: folder.config, environment: [:]).id == 4)
    }

    @Test func stateFolderIsAFile() throws {
        let folder = try Folder()
        try Data("not a folder\n".utf8).write(to: URL(fileURLWithPath: folder.path + "/state"))
        let before = try folder.snapshot()
        let startup = try NodeStartup(role: .acceptor, id: 1, configPath: folder.config, state: folder.path + "/state", environment: [:])
        let error = #expect(throws: StartupError.self) { try startup.lockState() }
        #expect(error?.description.hasPrefix("cannot create state folder '\(folder.path)/state': ") == true)
        #expect(error?.description.contains("\n") == false)
        #expect(try folder.snapshot() == before)
    }

    // Root writes anywhere: as root, the CLI tests bind the folder read-only in a private mount namespace.
    @Test(.enabled(if: getuid() != 0, "root writes anywhere"))
    func stateFolderNotWritable() throws {
        let folder = try Folder()
        let state = folder.path + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false)
        #expect(chmod(state, 0o555) == 0)
        defer { chmod(state, 0o755) }
        let startup = try NodeStartup(role: .learner, id: 1, configPath: folder.config, state: state, environment: [:])
        let before = try folder.snapshot()
        let error = #expect(throws: StartupError.self) { try startup.lockState() }
        #expect(error?.description == "state folder '\(state)' is not writable")
        #expect(try folder.snapshot() == before)
    }

    @Test func stateFolderIsCreatedBesideTheConfig() throws {
        let folder = try Folder()
        let startup = try NodeStartup(role: .proposer, id: 2, configPath: folder.config, environment: [:])
        #expect(startup.stateDirectory == folder.path + "/paxos-state")
        #expect(try startup.lockState() == folder.path + "/paxos-state/proposer-2.sqlite")
    }

    /// The lock is per role and id: a second start of the same one is refused while the first holds it
    /// (flock locks belong to the open file, so this holds within one process too); another id is not.
    @Test func lockHeld() throws {
        let folder = try Folder()
        let state = folder.path + "/state"
        func start(_ id: UInt32) throws -> NodeStartup {
            try NodeStartup(role: .acceptor, id: id, configPath: folder.config, state: state, environment: [:])
        }
        #expect(try start(1).lockState() == state + "/acceptor-1.sqlite")
        let error = #expect(throws: StartupError.self) { try start(1).lockState() }
        #expect(error?.description == "acceptor 1 is already running with state in '\(state)'")
        #expect(try start(2).lockState() == state + "/acceptor-2.sqlite")
    }
}
