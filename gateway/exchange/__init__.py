"""Exchange with Trusts' systems: delivering the outbox (push)."""
