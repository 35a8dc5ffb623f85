"""Who a resource is from and to, and the rule that a caller may only send as itself.

The parties of a resource are the organisations its party elements name (core.fhir.parties),
by ODS identifier or by a reference to an Organization the store knows; the first role of
each type is its sender's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from core.fhir.issues import Issue, IssueCode
from core.fhir.parties import party_references, sender_role
from gateway.fhir.store import Party, ResourceStore
from gateway.platform.errors import Forbidden, InvalidContent


def parties_of(
    store: ResourceStore, resource_type: str, resource: Mapping[str, Any]
) -> list[Party]:
    references = party_references(resource_type, resource)
    literal_ids = [r.organization_id for r in references if r.organization_id]
    codes = store.organisation_codes(literal_ids)
    parties: list[Party] = []
    for reference in references:
        if reference.ods_code is not None:
            parties.append(Party(reference.ods_code, reference.basis))
        elif reference.organization_id is not None:
            found = codes.get(reference.organization_id, set())
            parties.extend(Party(code, reference.basis) for code in sorted(found))
    return list(dict.fromkeys(parties))


def check_sender(
    caller_ods: str,
    resource_type: str,
    parties: list[Party],
    resource: Mapping[str, Any] | None = None,
) -> None:
    """The sender named in the content must be the calling organisation, on create and on
    every update: only a record's author writes it (core.fhir.authorship), and it cannot
    write a version that names another organisation as its sender."""
    role = sender_role(resource_type, resource)
    element = f"{resource_type}.{role.path}"
    senders = {party.ods_code for party in parties if party.basis == role.basis}
    ours = {caller_ods}
    if not senders:
        raise InvalidContent(
            [
                Issue(
                    IssueCode.BUSINESS_RULE,
                    f"{element} must name your organisation by its ODS code "
                    f"({ODS_ORGANISATION_SYSTEM}), or by a reference to its Organization.",
                    element,
                )
            ],
            business_rule=True,
        )
    if not (senders == ours or _among_several(resource_type, ours, senders)):
        raise Forbidden(
            f"{element} names an organisation other than the one this access token acts for.",
            expression=element,
        )


def _among_several(resource_type: str, ours: set[str], senders: set[str]) -> bool:
    # A Provenance may name several agents (author, transmitter); the caller is one.
    return resource_type == "Provenance" and ours <= senders
