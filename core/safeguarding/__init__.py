"""Safeguarding: the shared action tracker (actions.py, transitions.py, contacts.py),
pure: request bodies in, FHIR resources and decisions out."""
