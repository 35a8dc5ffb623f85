"""Safeguarding work shared between organisations: restrictions on a person and their
reviews (restrictions*.py)."""
