"""Field types shared by the configuration files."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from mappings.identifiers import is_valid_ods_code


def _ods_code(value: str) -> str:
    if not is_valid_ods_code(value):
        raise ValueError("must be an ODS code: 3 to 10 upper-case letters and digits")
    return value


# An organisation's ODS code, as every configuration file names organisations.
OdsCode = Annotated[str, AfterValidator(_ods_code)]
