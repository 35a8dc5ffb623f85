"""The access-log benchmark (`python -m bench.audit`); see bench/README.md."""
