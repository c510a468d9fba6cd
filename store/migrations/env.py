"""Alembic environment: runs on the connection handed over by store.db.init_db (no alembic.ini)."""

from alembic import context
from sqlmodel import SQLModel

from store.db import _import_table_modules

_import_table_modules()
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
