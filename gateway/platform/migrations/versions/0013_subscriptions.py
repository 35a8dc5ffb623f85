"""FHIR Subscriptions (rest-hook), and their notifications in the outbox.

`subscriptions` holds each Subscription's current version, its owner (organisation and
client), what its criteria search, where it is notified and how it is doing (status,
failures in a row, error). Every FHIR write looks up the active ones for the written
type, so that lookup has a partial index of its own.

The outbox gains what a notification needs beyond a delivery's: its URL and method (a
notification goes to the Subscription's endpoint, not the Trust's message endpoint),
the channel's headers, the Subscription, and the version it is about.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

from gateway.platform.schema import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("owner_client", sa.String(128), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("last_updated", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("criteria", sa.Text(), nullable=False),
        sa.Column("endpoint", sa.String(2048), nullable=False),
        sa.Column("payload", sa.String(64), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("end_at", UTCDateTime, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index(
        "ix_subscriptions_active_type",
        "subscriptions",
        ["resource_type"],
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_index("ix_subscriptions_owner", "subscriptions", ["owner"])
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("url", sa.String(2048), nullable=True))
        table.add_column(sa.Column("method", sa.String(8), nullable=True))
        table.add_column(sa.Column("headers", sa.Text(), nullable=True))
        table.add_column(sa.Column("subscription_id", sa.String(64), nullable=True))
        table.add_column(sa.Column("resource", sa.String(200), nullable=True))
        table.create_index("ix_outbox_subscription_id", ["subscription_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_index("ix_outbox_subscription_id")
        table.drop_column("resource")
        table.drop_column("subscription_id")
        table.drop_column("headers")
        table.drop_column("method")
        table.drop_column("url")
    op.drop_index("ix_subscriptions_owner", table_name="subscriptions")
    op.drop_index("ix_subscriptions_active_type", table_name="subscriptions")
    op.drop_table("subscriptions")
