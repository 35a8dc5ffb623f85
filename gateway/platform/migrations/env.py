"""Alembic environment: always run programmatically with a connection (gateway db upgrade)."""

from __future__ import annotations

from alembic import context

from gateway.platform.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `gateway db upgrade`, which supplies a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
