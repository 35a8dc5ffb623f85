"""FHIR R4 rules: the pinned models, validation (structure, required bindings, UK Core),
identifiers, dates, narrative, and who a resource is about and from."""
