"""FHIR search: which parameters exist, what they index, and how a query is parsed."""
