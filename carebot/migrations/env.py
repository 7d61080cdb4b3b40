"""Alembic environment: the caller (carebot.migrations) passes the connection, the version table and, only when
writing a revision, the tables to compare with."""

from __future__ import annotations

from alembic import context

attributes = context.config.attributes
context.configure(
    connection=attributes["connection"],
    target_metadata=attributes.get("metadata"),
    version_table=attributes["version_table"],
)
with context.begin_transaction():
    context.run_migrations()
