"""Safeguarding work shared between organisations: actions with an owner and a deadline,
restrictions that are time-limited and reviewed (restrictions*.py: the record, its rules
and its FHIR Flag), and what is told when one is overdue."""
