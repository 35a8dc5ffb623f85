"""The functional core for consent and data-sharing-agreement decisions.

Pure by contract (import-linter): the standard library, pydantic and fhir.resources only.
The decision point itself arrives with the consent issue; the contract that keeps it pure
is in force from the start so that nothing impure can grow here.
"""
