"""Safeguarding deadlines: each level of the owner's safeguarding ladder an overdue
action or restriction review has reached, and what the gateway did when it was missed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import PATIENT_LENGTH, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safeguarding_deadlines",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("patient", sa.String(PATIENT_LENGTH), nullable=False),
        sa.Column("owner_ods", sa.String(16), nullable=False),
        sa.Column("told", sa.String(200), nullable=False),
        sa.Column("on_behalf_ods", sa.String(16), nullable=False),
        sa.Column("on_behalf_client", sa.String(128), nullable=False),
        sa.Column("on_behalf_role", sa.String(32), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("locality", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("met_at", UTCDateTime, nullable=True),
        sa.Column("acted_at", UTCDateTime, nullable=True),
        sa.Column("acted_by", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("notice_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_safeguarding_deadlines"),
    )
    op.create_index(
        "ix_safeguarding_deadlines_state_deadline",
        "safeguarding_deadlines",
        ["state", "deadline"],
    )
    op.create_index(
        "ix_safeguarding_deadlines_record", "safeguarding_deadlines", ["record_type", "record_id"]
    )
    op.create_index(
        "ix_safeguarding_deadlines_owner_ods_acted_at",
        "safeguarding_deadlines",
        ["owner_ods", "acted_at"],
    )


def downgrade() -> None:
    op.drop_table("safeguarding_deadlines")
