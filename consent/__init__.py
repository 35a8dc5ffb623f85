"""The functional core for consent and data-sharing-agreement decisions.

Pure by contract (import-linter): the standard library and pydantic only; values in,
values out, no clock, no I/O. One entry point, `decide` (consent.decision), answers
whether one piece of data may pass from one organisation to another for one purpose,
and why:

- purposes.py   what a request is for (v3 PurposeOfUse codes, plus safeguarding)
- model.py      the request, the decision, its reasons and obligations, the rule names
- agreements.py data-sharing agreements (DSAs) and which one covers a sharing
- statements.py a person's consent statements (FHIR Consent, already read) and their
                answer for one sharing
- decision.py   the decision point: agreements, then consent, then overrides
"""
