"""Safeguarding: the shared action tracker, restrictions and their reviews
(restriction*.py), and the escalation of what is overdue along the owner's safeguarding
ladder."""
