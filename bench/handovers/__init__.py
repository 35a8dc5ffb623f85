"""The handover pipeline's throughput (`python -m bench.handovers`).

- mapping.py: the pure mapping functions in process, on one core: `parse_dataset`,
  `to_fhir`, `from_fhir`, and parse + to_fhir, on the spec's handover and escalation
  examples;
- http.py: the real server (`gateway serve`) over HTTP on a fresh, migrated store, the
  foundation's plain `POST /fhir/ServiceRequest` and `POST /api/handovers` in the same
  run, in alternating rounds, from many concurrent connections; what the server, this
  process and the rest of the machine spent on each; and what the store holds afterwards;
- examples.py: the datasets both send (the spec examples, each push with a fresh
  external_id, patient and respond-by in the future);
- report.py: the Markdown and JSON results; run.py: the command line.

See bench/README.md, "Handovers".
"""
