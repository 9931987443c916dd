import PaxosStore
import PaxosCore

/// What `paxos --version` prints: the release, and the formats a binary reads and writes, since those —
/// not the release number — decide whether two binaries can share a cluster or a state folder.
public enum PaxosVersion {
    /// Raised with every change users can see; the formats below have their own numbers.
    public static let release = "0.9.0"

    /// e.g. "0.9.0 (wire format 3; database schema versions: acceptor 3, learner 2, proposer 1)".
    public static var description: String {
        let schemas = StoreKind.allCases.map { "\($0.rawValue) \($0.migrations.count)" }.joined(separator: ", ")
        return "\(release) (wire format \(Wire.version); database schema versions: \(schemas))"
    }
}
