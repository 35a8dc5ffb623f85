"""Field types shared by the configuration files."""

from __future__ import annotations

# An organisation's ODS code, as every configuration file (and every dataset) names one.
from core.fhir.identifier_types import OdsCode

__all__ = ["OdsCode"]
