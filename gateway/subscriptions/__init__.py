"""FHIR R4 Subscriptions with a rest-hook channel: Trust systems learn of what matches
their criteria in seconds, without polling (docs/subscriptions.md)."""
