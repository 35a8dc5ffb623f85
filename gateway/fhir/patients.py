"""Who a record being written is about (core.fhir.patients), with what only the shell
knows: the local patient identifier systems its parties registered (organisations.yaml)
and the Patient a `Patient/<id>` reference names, looked up as the writer may see it.

A record whose person cannot be established is refused (422 at its patient element);
the enforcement side (gateway.fhir.service) puts the refusal in the access log under its
own rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from core.fhir.issues import ContentError
from core.fhir.patients import fact_identifier, patient_fact, referenced_patient
from core.search.indexing import indexes_person
from core.search.query import ReferenceCriterion, SearchQuery
from gateway.fhir.store import Party, ResourceStore
from gateway.platform.errors import InvalidContent

# Each organisation's local patient identifier systems, by ODS code.
LocalSystems = Mapping[str, frozenset[str]]
_PATIENT_REFERENCE = "Patient/"


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


def naming_people(store: ResourceStore, query: SearchQuery, seen_by: str | None) -> SearchQuery:
    """A search by `Patient/<id>` finds every record about that person, however it named
    them: records written with the NHS number (or a local identifier) never carried the
    reference. The Patient, as `seen_by` (an ODS code; None: the gateway) may see it,
    says who it is; one it may not see names nobody."""
    return replace(
        query,
        criteria=tuple(
            _with_people(store, criterion, seen_by)
            if isinstance(criterion, ReferenceCriterion)
            and indexes_person(query.resource_type, criterion.param)
            else criterion
            for criterion in query.criteria
        ),
    )


def _with_people(
    store: ResourceStore, criterion: ReferenceCriterion, seen_by: str | None
) -> ReferenceCriterion:
    people: list[tuple[str, str]] = []
    for reference in criterion.references:
        if not reference.startswith(_PATIENT_REFERENCE):
            continue
        person = stored_person(store, reference.removeprefix(_PATIENT_REFERENCE), seen_by)
        if person is not None:
            people.append(fact_identifier(person))
    return replace(criterion, people=tuple(people))
