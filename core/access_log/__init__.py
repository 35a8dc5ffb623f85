"""The access log's event: an IHE BALP AuditEvent, and what is indexed from its bytes."""
