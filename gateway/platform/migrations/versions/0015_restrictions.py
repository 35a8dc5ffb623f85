"""Restrictions on a person: each restriction Flag's dates and state, for searches and
the deadline watcher (gateway.safeguarding.restrictions).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import PATIENT_LENGTH, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "restrictions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("author", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(PATIENT_LENGTH), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("start", UTCDateTime, nullable=False),
        sa.Column("time_limit", UTCDateTime, nullable=False),
        sa.Column("review_due", UTCDateTime, nullable=True),
        sa.Column("last_review_at", UTCDateTime, nullable=True),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("end_reason", sa.String(16), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("expired_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_restrictions"),
    )
    op.create_index("ix_restrictions_state_time_limit", "restrictions", ["state", "time_limit"])
    op.create_index("ix_restrictions_author_state", "restrictions", ["author", "state"])
    op.create_index("ix_restrictions_patient", "restrictions", ["patient"])


def downgrade() -> None:
    op.drop_table("restrictions")
