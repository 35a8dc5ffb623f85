"""Escalation ladders: each step with its deadline, the interface delays found, and the
manager reviews opened when escalations repeat.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import PATIENT_LENGTH, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalation_steps",
        sa.Column("communication_id", sa.String(64), nullable=False),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("escalation_id", sa.String(64), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(PATIENT_LENGTH), nullable=True),
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("receiver_ods", sa.String(16), nullable=False),
        sa.Column("pathway", sa.String(32), nullable=False),
        sa.Column("locality", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("sender_client", sa.String(128), nullable=False),
        sa.Column("sender_role", sa.String(32), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("deadline", UTCDateTime, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("answered_at", UTCDateTime, nullable=True),
        sa.Column("answered_by", sa.String(16), nullable=True),
        sa.Column("acted_at", UTCDateTime, nullable=True),
        sa.Column("acted_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("communication_id", name="pk_escalation_steps"),
    )
    op.create_index(
        "ix_escalation_steps_state_deadline", "escalation_steps", ["state", "deadline"]
    )
    op.create_index("ix_escalation_steps_escalation_id", "escalation_steps", ["escalation_id"])
    op.create_index(
        "ix_escalation_steps_service_request_id",
        "escalation_steps",
        ["service_request_id"],
        unique=True,
    )
    op.create_index(
        "ix_escalation_steps_patient_received_at", "escalation_steps", ["patient", "received_at"]
    )
    op.create_table(
        "interface_delays",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("communication_id", sa.String(64), nullable=False),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("escalation_id", sa.String(64), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("receiver_ods", sa.String(16), nullable=False),
        sa.Column("pathway", sa.String(32), nullable=False),
        sa.Column("locality", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(16), nullable=True),
        sa.Column("deadline", UTCDateTime, nullable=False),
        sa.Column("detected_at", UTCDateTime, nullable=False),
        sa.Column("responded_at", UTCDateTime, nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interface_delays"),
    )
    op.create_index(
        "ix_interface_delays_communication_id",
        "interface_delays",
        ["communication_id"],
        unique=True,
    )
    op.create_index(
        "ix_interface_delays_receiver_ods_detected_at",
        "interface_delays",
        ["receiver_ods", "detected_at"],
    )
    op.create_index(
        "ix_interface_delays_sender_ods_detected_at",
        "interface_delays",
        ["sender_ods", "detected_at"],
    )


    op.create_table(
        "manager_reviews",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("sender_ods", sa.String(16), nullable=False),
        sa.Column("patient", sa.String(PATIENT_LENGTH), nullable=False),
        sa.Column("pathway", sa.String(32), nullable=False),
        sa.Column("escalation_id", sa.String(64), nullable=False),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("within_days", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("finding", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("plan_change", sa.Text(), nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("closed_by", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_manager_reviews"),
    )
    op.create_index(
        "ix_manager_reviews_sender_ods_state_opened_at",
        "manager_reviews",
        ["sender_ods", "state", "opened_at"],
    )
    op.create_index(
        "ix_manager_reviews_sender_ods_patient_state",
        "manager_reviews",
        ["sender_ods", "patient", "state"],
    )


def downgrade() -> None:
    op.drop_table("manager_reviews")
    op.drop_table("interface_delays")
    op.drop_table("escalation_steps")
