"""The person is always known: every record's patient fact is established by the rules
in core.fhir.patients, and the columns holding it are wide enough for a local identifier.

Widening: resources, resource_versions, audit_events and outbox `patient` go from 16 to
255 characters on PostgreSQL (a change to the catalogue only). SQLite never enforces a
VARCHAR length, so its tables are left as they are rather than copied whole.

Backfill, for every version of every record of a type about a person (current and
history): its person as the rules now establish it, from its own content. A `Patient/<id>`
reference is resolved to the NHS number of that Patient, if it is stored here and the
record's origin is party to it (as a write now resolves it), and the person is then also
indexed by identifier, so that a search by NHS number finds the record. Anything the rules
do not establish (another or misspelt identifier system, no system, a display alone, a
reference to a Patient not stored here) gets no patient: such a record is never shared
(consent.decision). No local identifier system was registered before this revision, so
none is recognised here. The access log is left as written: its events are hashed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.fhir.issues import ContentError
from core.fhir.patients import fact_identifier, patient_fact, referenced_patient

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 1000
_WIDE = 255
_NARROW = 16
_TABLES = ("resources", "resource_versions", "audit_events", "outbox")
# Patients first: the other types' references resolve to their facts.
_PATIENTS = ("Patient",)
_ABOUT_A_PERSON = ("ServiceRequest", "Communication", "Flag", "Task", "Consent")
# The search parameters on each type's patient element, as revision 0009 indexes them.
_PATIENT_PARAMETERS = {
    "ServiceRequest": ("patient", "subject"),
    "Communication": ("patient", "subject"),
    "Flag": ("patient", "subject"),
    "Task": ("patient", "subject"),
    "Consent": ("patient",),
}

_resources = sa.table(
    "resources",
    sa.column("resource_type"),
    sa.column("id"),
    sa.column("version_id"),
    sa.column("last_updated"),
    sa.column("content"),
    sa.column("patient"),
    sa.column("origin"),
)
_versions = sa.table(
    "resource_versions",
    sa.column("resource_type"),
    sa.column("id"),
    sa.column("version_id"),
    sa.column("content"),
    sa.column("patient"),
    sa.column("origin"),
)
_parties = sa.table(
    "resource_parties",
    sa.column("resource_type"),
    sa.column("resource_id"),
    sa.column("ods_code"),
)
_index = sa.table(
    "search_index",
    sa.column("resource_type"),
    sa.column("resource_id"),
    sa.column("param"),
    sa.column("system"),
    sa.column("value"),
    sa.column("last_updated"),
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        for table in _TABLES:
            op.alter_column(
                table,
                "patient",
                type_=sa.String(_WIDE),
                existing_type=sa.String(_NARROW),
                existing_nullable=True,
            )
    for types in (_PATIENTS, _ABOUT_A_PERSON):
        _establish(connection, _resources, types, current=True)
        _establish(connection, _versions, types, current=False)


def _establish(connection: Any, table: Any, types: tuple[str, ...], *, current: bool) -> None:
    """Each row's patient by the rules, in keyset batches; for current versions named by
    reference, the person's index rows too."""
    key = [table.c.resource_type, table.c.id, table.c.version_id]
    after: tuple[str, str, int] = ("", "", 0)
    columns = [*key, table.c.content, table.c.origin]
    if current:
        columns.append(table.c.last_updated)
    while True:
        rows = connection.execute(
            sa.select(*columns)
            .where(table.c.resource_type.in_(types), sa.tuple_(*key) > after)
            .order_by(*key)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        parsed = [(row, json.loads(row.content)) for row in rows]
        referenced = _referenced_patients(connection, parsed)
        updates = []
        index_rows = []
        for row, resource in parsed:
            patient_id = referenced_patient(row.resource_type, resource)
            found = referenced.get(patient_id) if patient_id is not None else None
            visible = found is not None and row.origin in found[1]
            patient = _patient(row.resource_type, resource, found[0] if found and visible else None)
            updates.append(
                {"k_type": row.resource_type, "k_id": row.id, "k_version": row.version_id, "p": patient}
            )
            if current and patient is not None and patient_id is not None:
                index_rows.extend(_index_rows(row, patient))
        connection.execute(
            table.update()
            .where(
                table.c.resource_type == sa.bindparam("k_type"),
                table.c.id == sa.bindparam("k_id"),
                table.c.version_id == sa.bindparam("k_version"),
            )
            .values(patient=sa.bindparam("p")),
            updates,
        )
        if index_rows:
            _add_index_rows(connection, index_rows)
        last = rows[-1]
        after = (last.resource_type, last.id, last.version_id)


def _patient(resource_type: str, resource: Mapping[str, Any], referenced: str | None) -> str | None:
    try:
        return patient_fact(
            resource_type, resource, local_systems=frozenset(), referenced=referenced
        )
    except ContentError:
        return None


def _referenced_patients(
    connection: Any, parsed: list[tuple[Any, Mapping[str, Any]]]
) -> dict[str, tuple[str | None, set[str]]]:
    """The stored Patients the batch names by reference: their patient and parties."""
    ids = {
        patient_id
        for row, resource in parsed
        if (patient_id := referenced_patient(row.resource_type, resource)) is not None
    }
    if not ids:
        return {}
    found: dict[str, tuple[str | None, set[str]]] = {
        patient_id: (patient, set())
        for patient_id, patient in connection.execute(
            sa.select(_resources.c.id, _resources.c.patient).where(
                _resources.c.resource_type == "Patient", _resources.c.id.in_(ids)
            )
        )
    }
    for patient_id, ods_code in connection.execute(
        sa.select(_parties.c.resource_id, _parties.c.ods_code).where(
            _parties.c.resource_type == "Patient", _parties.c.resource_id.in_(ids)
        )
    ):
        if patient_id in found:
            found[patient_id][1].add(ods_code)
    return found


def _index_rows(row: Any, patient: str) -> list[dict[str, Any]]:
    system, value = fact_identifier(patient)
    return [
        {
            "resource_type": row.resource_type,
            "resource_id": row.id,
            "param": f"{param}:identifier",
            "system": system,
            "value": value,
            "last_updated": row.last_updated,
        }
        for param in _PATIENT_PARAMETERS.get(row.resource_type, ())
    ]


def _add_index_rows(connection: Any, rows: list[dict[str, Any]]) -> None:
    """Only those not there already (a record written with the identifier as well)."""
    new = [
        row
        for row in rows
        if connection.execute(
            sa.select(sa.literal(1)).where(
                _index.c.resource_type == row["resource_type"],
                _index.c.resource_id == row["resource_id"],
                _index.c.param == row["param"],
                _index.c.system == row["system"],
                _index.c.value == row["value"],
            )
        ).first()
        is None
    ]
    if new:
        connection.execute(_index.insert(), new)


def downgrade() -> None:
    """A local identifier does not fit the narrower columns: those records go back to
    having no patient (never shared), and their events and deliveries to naming none."""
    connection = op.get_bind()
    for table in _TABLES:
        facts = sa.table(table, sa.column("patient"))
        connection.execute(
            facts.update().where(sa.func.length(facts.c.patient) > _NARROW).values(patient=None)
        )
        if connection.dialect.name == "postgresql":
            op.alter_column(
                table,
                "patient",
                type_=sa.String(_NARROW),
                existing_type=sa.String(_WIDE),
                existing_nullable=True,
            )
