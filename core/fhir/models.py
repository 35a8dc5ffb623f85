"""The one place that pins the FHIR model package and release.

Every other module asks this one for model classes, so moving release (R4B today, as the
design asks, speaking FHIR 4.0.1 on the wire) is a change here only.
"""

from __future__ import annotations

from functools import cache

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource
from fhir_core.fhirabstractmodel import FHIRAbstractModel

FHIR_VERSION = "4.0.1"

# The resource types the gateway stores and serves.
SUPPORTED_RESOURCE_TYPES: tuple[str, ...] = (
    "ServiceRequest",
    "Communication",
    "Flag",
    "Task",
    "Consent",
    "Provenance",
    "Patient",
    "Organization",
)


def model_class(resource_type: str) -> type[FHIRAbstractModel]:
    """The pinned model class for a resource type; ValueError if there is none."""
    return get_fhir_model_class(resource_type)


@cache
def is_resource_type(name: str) -> bool:
    """Whether name is a FHIR resource type (Patient, Bundle), not a datatype or nothing."""
    if name in ("Resource", "DomainResource"):
        return False
    try:
        return issubclass(get_fhir_model_class(name), Resource)
    except ValueError:
        return False
