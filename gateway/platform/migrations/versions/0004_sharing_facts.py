"""Consent and data sharing: each resource's patient, originating organisation and data
category, so that searches filter by agreement and find patients with consents in SQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import json

import sqlalchemy as sa
from alembic import op

from core.fhir.parties import PARTY_ROLES
from gateway.platform.migrations.legacy_facts import nhs_number_as_written
from core.sharing.facts import shared_data

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 2000


def upgrade() -> None:
    with op.batch_alter_table("resources") as table:
        table.add_column(sa.Column("patient", sa.String(16), nullable=True))
        table.add_column(sa.Column("origin", sa.String(16), nullable=True))
        table.add_column(sa.Column("data_category", sa.String(32), nullable=True))
    op.create_index("ix_resources_type_patient", "resources", ["resource_type", "patient"])
    _backfill()


def _backfill() -> None:
    """Existing resources get the same facts a write now records (keyset batches)."""
    connection = op.get_bind()
    resources = sa.table(
        "resources",
        sa.column("resource_type"),
        sa.column("id"),
        sa.column("content"),
        sa.column("patient"),
        sa.column("origin"),
        sa.column("data_category"),
    )
    parties = sa.table(
        "resource_parties",
        sa.column("resource_type"),
        sa.column("resource_id"),
        sa.column("ods_code"),
        sa.column("basis"),
    )
    after = ("", "")
    while True:
        rows = connection.execute(
            sa.select(resources.c.resource_type, resources.c.id, resources.c.content)
            .where(sa.tuple_(resources.c.resource_type, resources.c.id) > after)
            .order_by(resources.c.resource_type, resources.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for resource_type, resource_id, content in rows:
            resource = json.loads(content)
            facts = shared_data(
                resource_type, resource, nhs_number_as_written(resource_type, resource)
            )
            roles = PARTY_ROLES.get(resource_type)
            basis = roles[0].basis if roles else ""
            origin = connection.execute(
                sa.select(sa.func.min(parties.c.ods_code)).where(
                    parties.c.resource_type == resource_type,
                    parties.c.resource_id == resource_id,
                    parties.c.basis == basis,
                )
            ).scalar()
            updates.append(
                {
                    "k_type": resource_type,
                    "k_id": resource_id,
                    "patient": facts.patient,
                    "origin": origin,
                    "data_category": facts.category,
                }
            )
        connection.execute(
            resources.update()
            .where(
                resources.c.resource_type == sa.bindparam("k_type"),
                resources.c.id == sa.bindparam("k_id"),
            )
            .values(
                patient=sa.bindparam("patient"),
                origin=sa.bindparam("origin"),
                data_category=sa.bindparam("data_category"),
            ),
            updates,
        )
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    op.drop_index("ix_resources_type_patient", table_name="resources")
    with op.batch_alter_table("resources") as table:
        table.drop_column("data_category")
        table.drop_column("origin")
        table.drop_column("patient")
