"""UK identifiers as pydantic field types, for the datasets and the configuration alike."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from core.fhir.identifiers import is_valid_nhs_number, is_valid_ods_code


def _nhs_number(value: str) -> str:
    if not is_valid_nhs_number(value):
        raise ValueError("must be 10 digits that pass the Modulus 11 check")
    return value


def _ods_code(value: str) -> str:
    if not is_valid_ods_code(value):
        raise ValueError("must be an ODS code: 3 to 10 upper-case letters and digits")
    return value


NhsNumber = Annotated[str, AfterValidator(_nhs_number)]
OdsCode = Annotated[str, AfterValidator(_ods_code)]
