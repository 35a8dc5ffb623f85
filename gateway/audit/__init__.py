"""The tamper-evident access log: RFC 9162 Merkle tree, signed checkpoints, and a
verifier that needs only the standard library and `cryptography`."""
