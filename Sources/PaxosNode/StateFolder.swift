import Foundation

/// The files a cluster's processes keep in their state folder, and starting afresh on purpose.
///
/// State carries over between runs by design (that is what lets a killed process carry on), so a second
/// course run in the same folder continues the first one's log. `paxos reset` is the deliberate way to
/// start from nothing; it refuses while any process of the folder runs, which it tells by the lock
/// every process holds on `<role>-<id>.lock` for as long as it lives (kill -9 included).
public enum StateFolder {
    static let kinds: Set<Substring> = ["sqlite", "sqlite-wal", "sqlite-shm", "sqlite-journal", "lock", "status",
                                        "status.tmp", "prom", "prom.tmp"]

    /// A file the processes write, `<role>-<id>.<kind>`, as ("learner 1", kind); nil for any other name.
    static func owner(of name: String) -> (process: String, kind: Substring)? {
        guard let dash = name.firstIndex(of: "-"), let dot = name[dash...].firstIndex(of: ".") else { return nil }
        let role = name[..<dash], id = name[name.index(after: dash)..<dot], kind = name[name.index(after: dot)...]
        guard ["acceptor", "proposer", "learner", "client"].contains(role), !id.isEmpty,
              id.allSatisfy({ $0.isASCII && $0.isNumber }), kinds.contains(kind) else { return nil }
        return ("\(role) \(id)", kind)
    }

    /// "acceptor 2", "learner 1": processes whose lock in `folder` is held right now.
    public static func running(in folder: String) -> [String] {
        lockFiles(in: folder).compactMap { name, path in
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            return flock(fd, LOCK_EX | LOCK_NB) == 0 ? nil : name
        }
    }

    /// Deletes every file the processes keep in `folder` (databases, locks, status files) and nothing
    /// else; refuses, deleting nothing, while any of them runs. Returns the names deleted.
    public static func reset(_ folder: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { throw StartupError("'\(folder)' is not a folder") }
        // Hold every lock while deleting, so no process can start on half-deleted state.
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        var busy: [String] = []
        for (name, path) in lockFiles(in: folder) {
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            held.append(fd)
            if flock(fd, LOCK_EX | LOCK_NB) != 0 { busy.append(name) }
        }
        guard busy.isEmpty else {
            throw StartupError("\(busy.joined(separator: ", ")) still running with state in '\(folder)'; stop \(busy.count == 1 ? "it" : "them") first")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { owner(of: $0) != nil }.sorted()
        for name in names {
            do {
                try FileManager.default.removeItem(atPath: folder + "/" + name)
            } catch {
                throw StartupError("cannot delete '\(folder)/\(name)': \(error.localizedDescription)")
            }
        }
        return names
    }

    private static func lockFiles(in folder: String) -> [(name: String, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().compactMap { name in
            guard let owner = owner(of: name), owner.kind == "lock" else { return nil }
            return (owner.process, folder + "/" + name)
        }
    }
}
