"""The safeguarding action tracker: each action's state beside its Task, and the partner
contacts recorded against actions (gateway.safeguarding).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import PATIENT_LENGTH, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "safeguarding_actions",
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("requester_ods", sa.String(16), nullable=False),
        sa.Column("owner_ods", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(PATIENT_LENGTH), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("locality", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("completed_at", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("task_id"),
    )
    op.create_index(
        "ix_safeguarding_actions_owner_ods_status",
        "safeguarding_actions",
        ["owner_ods", "status", "deadline"],
    )
    op.create_index(
        "ix_safeguarding_actions_requester_ods_status",
        "safeguarding_actions",
        ["requester_ods", "status", "deadline"],
    )
    op.create_index("ix_safeguarding_actions_patient", "safeguarding_actions", ["patient"])
    op.create_table(
        "safeguarding_contacts",
        sa.Column("communication_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("recipient_ods", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("sent_at", UTCDateTime, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("communication_id"),
    )
    op.create_index("ix_safeguarding_contacts_task_id", "safeguarding_contacts", ["task_id"])
    op.create_index("ix_safeguarding_contacts_sent_at", "safeguarding_contacts", ["sent_at"])


def downgrade() -> None:
    op.drop_table("safeguarding_contacts")
    op.drop_table("safeguarding_actions")
