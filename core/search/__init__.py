"""FHIR search as values: the parameters served, what a resource contributes to the index,
and a query string parsed into criteria."""
