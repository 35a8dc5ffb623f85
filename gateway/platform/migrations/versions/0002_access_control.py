"""Organisation-level access control: resource parties and used client assertions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_parties",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("ods_code", sa.String(16), nullable=False),
        sa.Column("basis", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type", "resource_id", "ods_code", "basis", name="pk_resource_parties"
        ),
    )
    op.create_table(
        "used_assertions",
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name="pk_used_assertions"),
    )
    op.create_index("ix_used_assertions_expires_at", "used_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("used_assertions")
    op.drop_table("resource_parties")
