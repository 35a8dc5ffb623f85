"""HTTP entry points: FHIR REST at /fhir, health, and the edge mapping of errors."""
