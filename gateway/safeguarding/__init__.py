"""Safeguarding: the shared action tracker (service, routes, store, fhir_rules,
action_deadlines), restrictions and their reviews (restriction*.py), and the escalation of
what is overdue along the owner's safeguarding ladder (overdue)."""
