"""Resources with full history and a search index.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "id", name="pk_resources"),
    )
    op.create_index(
        "ix_resources_type_last_updated", "resources", ["resource_type", "last_updated", "id"]
    )
    op.create_table(
        "resource_versions",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(
            "resource_type", "id", "version_id", name="pk_resource_versions"
        ),
    )
    op.create_table(
        "search_index",
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255), nullable=True),
        sa.Column("value", sa.String(255), nullable=True),
        sa.Column("low", UTCDateTime, nullable=True),
        sa.Column("high", UTCDateTime, nullable=True),
        sa.Column("last_updated", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_search_index_token",
        "search_index",
        ["resource_type", "param", "value", "last_updated"],
    )
    op.create_index(
        "ix_search_index_date", "search_index", ["resource_type", "param", "low", "high"]
    )
    op.create_index(
        "ix_search_index_owner", "search_index", ["resource_type", "resource_id", "param"]
    )


def downgrade() -> None:
    op.drop_table("search_index")
    op.drop_table("resource_versions")
    op.drop_table("resources")
