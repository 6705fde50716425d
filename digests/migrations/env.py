"""Alembic environment: runs on the connection ``digests.store.upgrade`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from digests.schema import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through `paperbot db upgrade`, which passes a connection")


def _include(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # The SQLite full-text index is made by hand in 0001; autogenerate must not drop it.
    return not (type_ == "table" and name is not None and name.startswith("paper_fts"))


context.configure(
    connection=connection,
    target_metadata=metadata,
    include_object=_include,
    # The version table lives in the schema being migrated (the first on the search
    # path), so a database whose other schema holds paperbot tables is not mistaken
    # for an up-to-date one.
    version_table_schema=connection.dialect.default_schema_name
    if connection.dialect.name == "postgresql"
    else None,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by table copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
