"""FHIR search: which parameters exist, what they index, how a query is parsed and run."""
