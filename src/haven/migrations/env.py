"""Alembic environment: the connection is handed in by haven.migrate, never built from a config file."""

from __future__ import annotations

from alembic import context

from haven.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
