"""The access log: audit events, their search references, Merkle nodes and checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", _SEQ, nullable=False, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("position", sa.BigInteger, nullable=True),
        sa.Column("recorded", UTCDateTime, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("patient", sa.String(16), nullable=True),
        sa.Column("client_id", sa.String(128), nullable=True),
        sa.Column("ods_code", sa.String(16), nullable=True),
        sa.Column("subtype", sa.String(64), nullable=False),
        sa.Column("action", sa.String(1), nullable=False),
        sa.Column("outcome", sa.SmallInteger, nullable=False),
        sa.Column("purpose", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    op.create_index("ux_audit_events_event_id", "audit_events", ["event_id"], unique=True)
    op.create_index("ux_audit_events_position", "audit_events", ["position"], unique=True)
    op.create_index("ix_audit_events_patient", "audit_events", ["patient", "recorded", "seq"])
    op.create_index("ix_audit_events_recorded", "audit_events", ["recorded", "seq"])
    # The sequencer's work list: only the few events not yet given a position.
    op.create_index(
        "ix_audit_events_unsequenced",
        "audit_events",
        ["seq"],
        postgresql_where=sa.text("position IS NULL"),
        sqlite_where=sa.text("position IS NULL"),
    )
    op.create_table(
        "audit_references",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("event_seq", _SEQ, nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", "event_seq", name="pk_audit_references"),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name="pk_audit_nodes"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signed_at", UTCDateTime, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signed", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_nodes")
    op.drop_table("audit_references")
    op.drop_table("audit_events")
