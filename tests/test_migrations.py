"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from store.db import _import_table_modules, init_db


def test_migrations_match_the_models(engine):
    # `engine` (conftest) was initialised through init_db, i.e. by running the migrations.
    _import_table_modules()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        version = conn.execute(text("select version_num from alembic_version")).scalar()
    assert diff == [], diff  # a model change without a migration fails here
    assert version is not None


def test_a_data_directory_from_before_migrations_is_adopted(tmp_path):
    _import_table_modules()
    eng = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    SQLModel.metadata.create_all(eng)  # how databases were created before migrations existed
    with eng.begin() as conn:
        conn.execute(
            text(
                "insert into item (id, type, department, title, state, version, data, created_at, updated_at)"
                " values ('X1', 'request', 'qz-fgw', 't', 'open', 1, '{}', '2026-01-01', '2026-01-01')"
            )
        )
    init_db(eng)
    with eng.connect() as conn:
        assert conn.execute(text("select count(*) from item")).scalar() == 1  # data kept
        assert conn.execute(text("select version_num from alembic_version")).scalar()
    assert "alembic_version" in inspect(eng).get_table_names()
