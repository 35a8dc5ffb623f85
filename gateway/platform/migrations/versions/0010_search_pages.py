"""Page references for POST _search: the search kept server-side, so that page links name
it by an opaque reference and never repeat its parameters (NHS numbers) in a URL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_pages",
        sa.Column("reference_sha256", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("reference_sha256", name="pk_search_pages"),
    )
    op.create_index("ix_search_pages_expires_at", "search_pages", ["expires_at"])


def downgrade() -> None:
    op.drop_table("search_pages")
