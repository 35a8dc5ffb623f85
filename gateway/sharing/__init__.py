"""Consent and data-sharing agreements enforced on every write, read, search and delivery."""
