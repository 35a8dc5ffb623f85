"""Datasets received: the sender's id, the hash as received, and the resources made.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_submissions",
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("body_sha256", sa.String(64), nullable=False),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("communication_id", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("gaps", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("sender_ods", "external_id", name="pk_dataset_submissions"),
    )
    op.create_index(
        "ix_dataset_submissions_sender_ods_request_id",
        "dataset_submissions",
        ["sender_ods", "request_id"],
        unique=True,
    )
    op.create_index(
        "ix_dataset_submissions_service_request_id",
        "dataset_submissions",
        ["service_request_id"],
        unique=True,
    )
    op.create_index(
        "ix_dataset_submissions_communication_id",
        "dataset_submissions",
        ["communication_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("dataset_submissions")
