extension Paxos {
    /// Decides, from a datagram's header alone, whether its message may reach this process's role.
    ///
    /// Two checks keep mistakes harmless. A sender whose cluster fingerprint differs (another
    /// `acceptor-count` or `learner-count`) would count quorums or trim differently: its datagrams are
    /// dropped. A sender playing this very role and id in another process means two processes share one
    /// identity — two acceptors answering as one break quorum intersection. The older of the two yields:
    /// it stops as soon as it hears the newer one. The newer cannot tell a live older process from an old
    /// datagram replayed long after its sender died, so it only warns; a replay can never stop a process,
    /// because no datagram can come from a process that started later than it was sent.
    public struct Admission: Hashable, Sendable {
        public let me: Sender
        public let fingerprint: ClusterFingerprint

        public init(me: Sender, fingerprint: ClusterFingerprint) {
            self.me = me
            self.fingerprint = fingerprint
        }

        public enum Verdict: Hashable, Sendable {
            /// Hand the message to the role.
            case admit
            /// Another cluster configuration: drop and count; warn once per sender.
            case foreignCluster(ClusterFingerprint)
            /// A newer process plays this role and id: this process must stop.
            case displaced(by: Sender)
            /// An older process plays (or played) this role and id: drop and warn once.
            case olderTwin(Sender)
        }

        public func verdict(on header: Wire.Header) -> Verdict {
            guard header.fingerprint == fingerprint else { return .foreignCluster(header.fingerprint) }
            let s = header.sender
            guard s.role == me.role, s.id == me.id, s.incarnation != me.incarnation || s.startedAt != me.startedAt else {
                return .admit
            }
            return s.isNewer(than: me) ? .displaced(by: s) : .olderTwin(s)
        }
    }
}
