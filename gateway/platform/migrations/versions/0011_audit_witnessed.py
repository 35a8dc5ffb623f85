"""The checkpoints this gateway holds as a witness for other parties' access logs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_witnessed",
        sa.Column("origin", sa.String(255), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("witnessed_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("origin", name="pk_audit_witnessed"),
    )


def downgrade() -> None:
    op.drop_table("audit_witnessed")
