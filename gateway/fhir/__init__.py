"""The FHIR REST surface at /fhir: validate, version, index, store, read and search resources."""
