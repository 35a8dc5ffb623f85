"""Safeguarding: the shared action tracker, restrictions and their reviews, and the
escalation of what is overdue along the owner's safeguarding ladder."""
