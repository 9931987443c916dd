// The roles speak the wire's vocabulary (ballots, instances, messages); a user of the core needs both.
@_exported import PaxosWire
