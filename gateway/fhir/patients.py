"""Who a record being written is about (core.fhir.patients), with what only the shell
knows: the local patient identifier systems its parties registered (organisations.yaml)
and the Patient a `Patient/<id>` reference names, looked up as the writer may see it.

A record whose person cannot be established is refused (422 at its patient element);
the enforcement side (gateway.fhir.service) puts the refusal in the access log under its
own rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from core.fhir.issues import ContentError
from core.fhir.patients import patient_fact, referenced_patient
from gateway.fhir.store import Party, ResourceStore
from gateway.platform.errors import InvalidContent

# Each organisation's local patient identifier systems, by ODS code.
LocalSystems = Mapping[str, frozenset[str]]


def establish_patient(
    store: ResourceStore,
    resource_type: str,
    resource: Mapping[str, Any],
    parties: Iterable[Party],
    *,
    local_systems: LocalSystems,
    writer: str | None,
) -> str | None:
    """The identifier of the person `resource` is about (None for a type about nobody);
    InvalidContent (422) when it cannot be established. `writer`: the ODS code of the
    organisation writing it, which must be party to a Patient it names by reference (as
    for a read, another organisation's Patient is one that is not there); None for the
    gateway itself."""
    systems = frozenset(
        system for party in parties for system in local_systems.get(party.ods_code, ())
    )
    patient_id = referenced_patient(resource_type, resource)
    referenced = stored_person(store, patient_id, writer) if patient_id is not None else None
    try:
        return patient_fact(resource_type, resource, local_systems=systems, referenced=referenced)
    except ContentError as error:
        raise InvalidContent(error.issues, business_rule=True) from None


def stored_person(store: ResourceStore, patient_id: str, seen_by: str | None) -> str | None:
    """The person's identifier recorded for a stored Patient that `seen_by` (an ODS
    code; None for the gateway itself) may see: None when there is none such."""
    record = store.current("Patient", patient_id)
    if record is None or record.facts is None:
        return None
    if seen_by is not None and not store.is_party("Patient", patient_id, seen_by):
        return None
    return record.facts.patient
