"""The cost of consent and data-sharing enforcement (`python -m bench.consent`).

- decisions.py: the decision point in process: `consent.decide` with 100 agreements and
  10 consent statements, with none, and `SharingPolicy.on_read` per record (the
  patient's Consent resources read and parsed once per policy, as once per request);
- searches.py: `ResourceService.search` in process on a store grown by bench/load.py
  (with Consent resources for about 1% of patients), enforcement off (`sharing=None`,
  what the code did before) against on (`sharing=SharingPolicy(...)`), interleaved;
- consents.py: the FHIR Consent resources both use, and the agreements of decisions.py;
- report.py: the Markdown and JSON results; run.py: the command line.

See bench/README.md, "Consent and data sharing".
"""
