"""The tamper-evident access log: AuditEvents, an RFC 9162 Merkle tree, signed checkpoints,
witnesses, the IG search."""
