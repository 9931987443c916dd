/// The three kinds of paxos database. Each has its own schema and migration series, and stamps its kind
/// in the file header so that one kind's file is never opened, let alone migrated, as another's.
public enum StoreKind: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case acceptor, learner, proposer

    /// Written to `PRAGMA application_id`: "PXAC", "PXLN", "PXPR" in ASCII.
    public var applicationID: Int32 {
        switch self {
        case .acceptor: 0x5058_4143
        case .learner: 0x5058_4C4E
        case .proposer: 0x5058_5052
        }
    }

    public init?(applicationID: Int32) {
        guard let kind = Self.allCases.first(where: { $0.applicationID == applicationID }) else { return nil }
        self = kind
    }

    public var description: String { rawValue }
}

/// How hard SQLite works to make each commit survive a crash (`PRAGMA synchronous`, in WAL mode).
public enum Synchronous: String, Hashable, Sendable, CaseIterable {
    /// Every commit is on disk before `write` returns, surviving power loss. The default: Paxos is only
    /// safe if an acceptor never forgets what it promised or accepted.
    case full
    /// Survives a process crash, but the last commits may be lost on power loss or an OS crash.
    case normal
    /// Leaves syncing to the OS entirely; for tests and benchmarks.
    case off

    var pragmaValue: String {
        switch self {
        case .full: "FULL"
        case .normal: "NORMAL"
        case .off: "OFF"
        }
    }
}
