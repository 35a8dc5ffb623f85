"""The functional core for FHIR content: models, validation and (later) dataset mappings.

Pure by contract (import-linter): the standard library, pydantic and fhir.resources only;
no I/O, no web framework, no database. Functions take values and return values.
"""
