"""The outbox keeps, with each delivery, what the consent re-check decides on.

Each resource the delivery carries: its type, data category, patient, security labels
and when it was made (core.sharing.facts.SharedData), as JSON, so that the re-check before
every attempt need not parse the message. Rows queued before this have none: their
message is parsed instead.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.add_column(sa.Column("sharing", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as table:
        table.drop_column("sharing")
