"""Safeguarding work shared between organisations: actions with an owner and a deadline
(actions.py, transitions.py, contacts.py, huddle.py), restrictions that are time-limited
and reviewed, and what is told when one is overdue."""
