"""The outbox: deliveries to Trusts' systems, written with what they deliver.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("destination", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(16), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("sender_client", sa.String(128), nullable=False),
        sa.Column("sender_role", sa.String(32), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("justification", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("receiver_reference", sa.String(256), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
    )
    op.create_index("ux_outbox_id", "outbox", ["id"], unique=True)
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_index(
        "ix_outbox_destination_patient_seq", "outbox", ["destination", "patient", "seq"]
    )
    op.create_index("ix_outbox_service_request_id", "outbox", ["service_request_id"])


def downgrade() -> None:
    op.drop_table("outbox")
