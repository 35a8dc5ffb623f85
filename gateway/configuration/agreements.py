"""Data-sharing agreements as written in agreements/*.yaml, one agreement per file."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from consent.agreements import Agreement, AgreementStatus
from consent.model import DataCategory
from consent.purposes import AgreementPurpose
from gateway.configuration.fields import OdsCode


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AgreementParty(_Strict):
    ods: OdsCode
    # How the organisation takes part, as the agreement says (data controller, provider...).
    role: str = Field(min_length=1, max_length=100)


class Contact(_Strict):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=200)
    organisation: str | None = None
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    telephone: str | None = Field(default=None, max_length=40)


class AgreementEntry(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9._\-]{1,64}$")
    version: str = Field(pattern=r"^[A-Za-z0-9._\-]{1,32}$")
    title: str = Field(min_length=1, max_length=300)
    status: AgreementStatus
    parties: tuple[AgreementParty, ...] = Field(min_length=2)
    purposes: tuple[AgreementPurpose, ...] = Field(min_length=1)
    data_categories: tuple[DataCategory, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=1, max_length=1000)
    valid_from: date
    valid_to: date | None = None
    review_date: date | None = None
    withhold_free_text: bool = False
    contacts: tuple[Contact, ...] = Field(min_length=1)
    # Where the signed agreement is kept (a document store URL or reference).
    document: str | None = Field(default=None, max_length=500)

    @field_validator("parties")
    @classmethod
    def _distinct_parties(cls, value: tuple[AgreementParty, ...]) -> tuple[AgreementParty, ...]:
        codes = [party.ods for party in value]
        if len(codes) != len(set(codes)):
            raise ValueError("each organisation may be a party once")
        return value

    @model_validator(mode="after")
    def _dates_in_order(self) -> AgreementEntry:
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self

    def agreement(self) -> Agreement:
        return Agreement(
            id=self.id,
            version=self.version,
            parties=frozenset(party.ods for party in self.parties),
            purposes=frozenset(self.purposes),
            categories=frozenset(self.data_categories),
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            status=self.status,
            withhold_free_text=self.withhold_free_text,
        )
