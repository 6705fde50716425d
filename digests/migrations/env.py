"""Alembic environment: runs on the connection ``digests.store.upgrade`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from digests.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `paperbot db upgrade`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
