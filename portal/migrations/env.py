"""Alembic environment: migrations run on the connection portal.db.migrate hands over."""

from __future__ import annotations

from alembic import context

from portal.db import Base
from portal.models import import_models

import_models()
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through portal.db.migrate (or `portal db upgrade`)")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
