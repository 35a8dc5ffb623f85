"""The manufacturer's clinical safety case (DCB0129), kept as data and rendered as a report.

A tool beside the gateway, never part of it: it reads `docs/safety/hazard-log.yaml`,
checks that every test a control names still exists, and writes
`docs/safety/safety-case.md`. `make safety` runs it; see docs/safety/README.md.
"""
