"""Alembic environment: migrations run on the connection handed over by :meth:`Database.migrate`."""

from __future__ import annotations

from alembic import context

from ledger.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ledger.storage.Database.migrate(), which passes the connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
