"""Safeguarding records shared between organisations: restrictions on a person (and their
reviews), as plain values and their FHIR mapping."""
