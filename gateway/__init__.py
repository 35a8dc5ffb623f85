"""The imperative shell: HTTP API, store, CLI and composition root."""
