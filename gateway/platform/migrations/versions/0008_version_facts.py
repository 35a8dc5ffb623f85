"""Every version keeps its own sharing facts and parties, so vread and _history decide
each version on the person, parties and data category it had (not the current one's).

Backfill, for versions stored before this: the patient and data category are recomputed
from each version's own content with the pure mappings a write uses; its parties from
its own content too (ODS identifiers as written; literal Organization references through
the directory's indexed ODS identifiers, as a write resolves them); its origin is the
record's origin as stored on the current version (a record belongs to the organisation
that created it, and updates always kept that origin).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from core.fhir.identifiers import ODS_ORGANISATION_SYSTEM
from core.fhir.parties import party_references
from gateway.platform.migrations.legacy_facts import nhs_number_as_written
from core.sharing.facts import shared_data

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 1000

_versions = sa.table(
    "resource_versions",
    sa.column("resource_type"),
    sa.column("id"),
    sa.column("version_id"),
    sa.column("content"),
    sa.column("patient"),
    sa.column("origin"),
    sa.column("data_category"),
    sa.column("parties"),
)
_resources = sa.table(
    "resources", sa.column("resource_type"), sa.column("id"), sa.column("origin")
)
_index = sa.table(
    "search_index",
    sa.column("resource_type"),
    sa.column("resource_id"),
    sa.column("param"),
    sa.column("system"),
    sa.column("value"),
)


def upgrade() -> None:
    with op.batch_alter_table("resource_versions") as table:
        table.add_column(sa.Column("patient", sa.String(16), nullable=True))
        table.add_column(sa.Column("origin", sa.String(16), nullable=True))
        table.add_column(sa.Column("data_category", sa.String(32), nullable=True))
        table.add_column(sa.Column("parties", sa.Text(), nullable=True))
    _backfill()


def _backfill() -> None:
    connection = op.get_bind()
    directory = _directory(connection)
    after: tuple[str, str, int] = ("", "", 0)
    while True:
        rows = connection.execute(
            sa.select(
                _versions.c.resource_type,
                _versions.c.id,
                _versions.c.version_id,
                _versions.c.content,
                _resources.c.origin,
            )
            .select_from(
                _versions.outerjoin(
                    _resources,
                    sa.and_(
                        _resources.c.resource_type == _versions.c.resource_type,
                        _resources.c.id == _versions.c.id,
                    ),
                )
            )
            .where(sa.tuple_(_versions.c.resource_type, _versions.c.id, _versions.c.version_id) > after)
            .order_by(_versions.c.resource_type, _versions.c.id, _versions.c.version_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for resource_type, resource_id, version_id, content, origin in rows:
            resource = json.loads(content)
            facts = shared_data(
                resource_type, resource, nhs_number_as_written(resource_type, resource)
            )
            updates.append(
                {
                    "k_type": resource_type,
                    "k_id": resource_id,
                    "k_version": version_id,
                    "patient": facts.patient,
                    "origin": origin,
                    "data_category": facts.category,
                    "parties": json.dumps(
                        _parties(resource_type, resource, directory), separators=(",", ":")
                    ),
                }
            )
        connection.execute(
            _versions.update()
            .where(
                _versions.c.resource_type == sa.bindparam("k_type"),
                _versions.c.id == sa.bindparam("k_id"),
                _versions.c.version_id == sa.bindparam("k_version"),
            )
            .values(
                patient=sa.bindparam("patient"),
                origin=sa.bindparam("origin"),
                data_category=sa.bindparam("data_category"),
                parties=sa.bindparam("parties"),
            ),
            updates,
        )
        last = rows[-1]
        after = (last[0], last[1], last[2])


def _directory(connection: Any) -> dict[str, list[str]]:
    """The ODS codes of each Organization resource, by id."""
    found: dict[str, list[str]] = {}
    rows = connection.execute(
        sa.select(_index.c.resource_id, _index.c.value)
        .where(
            _index.c.resource_type == "Organization",
            _index.c.param == "identifier",
            _index.c.system == ODS_ORGANISATION_SYSTEM,
        )
        .order_by(_index.c.resource_id, _index.c.value)
    )
    for resource_id, value in rows:
        found.setdefault(resource_id, []).append(value)
    return found


def _parties(
    resource_type: str, resource: dict[str, Any], directory: dict[str, list[str]]
) -> list[list[str]]:
    parties: dict[tuple[str, str], None] = {}
    for reference in party_references(resource_type, resource):
        if reference.ods_code is not None:
            parties[(reference.ods_code, reference.basis)] = None
        elif reference.organization_id is not None:
            for code in directory.get(reference.organization_id, []):
                parties[(code, reference.basis)] = None
    return [[code, basis] for code, basis in parties]


def downgrade() -> None:
    with op.batch_alter_table("resource_versions") as table:
        table.drop_column("parties")
        table.drop_column("data_category")
        table.drop_column("origin")
        table.drop_column("patient")
