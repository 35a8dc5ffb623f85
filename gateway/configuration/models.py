"""What a configuration directory holds, as validated, immutable values."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from mappings.identifiers import is_valid_ods_code


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deployment(_Strict):
    name: str
    # A demo deployment carries published keys and sample data: never for production.
    demo: bool = False


class Organisation(_Strict):
    ods: str
    name: str
    role: Literal["provider", "trust"]
    locality: str | None = None

    @field_validator("ods")
    @classmethod
    def _ods_code(cls, value: str) -> str:
        if not is_valid_ods_code(value):
            raise ValueError("must be an ODS code: 3 to 10 upper-case letters and digits")
        return value


class Directory(_Strict):
    organisations: tuple[Organisation, ...]

    @field_validator("organisations")
    @classmethod
    def _unique(cls, value: tuple[Organisation, ...]) -> tuple[Organisation, ...]:
        codes = [organisation.ods for organisation in value]
        if len(codes) != len(set(codes)):
            raise ValueError("each ODS code may appear only once")
        return value


class GatewayConfig(_Strict):
    deployment: Deployment
    directory: Directory
