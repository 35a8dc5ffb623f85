"""Safeguarding work shared between organisations: actions with an owner and a deadline
(actions.py, transitions.py, contacts.py, huddle.py), restrictions that are time-limited
and reviewed (restrictions*.py: the record, its rules and its FHIR Flag), what is told
when one is overdue (overdue_notice.py), and the person's picture for the summary
(picture.py)."""
