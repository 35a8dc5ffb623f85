"""Safeguarding: the shared action tracker (service, routes, store, fhir_rules),
restrictions and their reviews, and the escalation of what is overdue along the owner's
safeguarding ladder (overdue)."""
