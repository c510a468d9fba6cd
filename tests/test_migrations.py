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


def test_clock_summary_is_filled_from_the_stored_explanations(db_url):
    """0005 adds clock.summary and fills it from each stored explanation (what the scores' 明细 lists)."""
    import uuid

    from alembic import command

    from store.db import alembic_config, create_db_engine
    from store.models import SUMMARY_MAX

    schema = None
    if db_url.startswith("sqlite"):
        eng = create_db_engine(db_url)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = create_db_engine(db_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0004_drop_notification")
        with eng.begin() as conn:
            conn.execute(
                text(
                    "insert into item (id, type, department, title, state, version, data, created_at, updated_at)"
                    " values ('X1', 'request', 'qz-fgw', 't', 'open', 1, '{}', '2026-01-01', '2026-01-01')"
                )
            )
            for rule, expl in (
                ("request_reply", '{"summary": "自 2026-01-05 起算第 20 个工作日", "steps": [1]}'),
                ("other", "{}"),
                ("long", '{"summary": "' + "节" * 400 + '"}'),
            ):
                conn.execute(
                    text(
                        "insert into clock (item_id, rule, region, start, due, state, provisional, paused_days,"
                        " explanation, updated_at) values ('X1', :rule, 'national', '2026-01-05', '2026-02-02',"
                        " 'open', false, 0, :expl, '2026-01-05')"
                    ),
                    {"rule": rule, "expl": expl},
                )
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with eng.connect() as conn:
            got = dict(conn.execute(text("select rule, summary from clock")).all())
        assert got == {
            "request_reply": "自 2026-01-05 起算第 20 个工作日",
            "other": None,
            "long": "节" * (SUMMARY_MAX - 1) + "…",  # it is in an index: capped, as the store writes it
        }
        with eng.connect() as conn:
            names = {ix["name"] for ix in inspect(conn).get_indexes("clock")}
        assert {"ix_clock_due_report", "ix_clock_open_report"} <= names
        assert not {"ix_clock_due", "ix_clock_state"} & names  # replaced by the covering ones
    finally:
        eng.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_event_report_columns_are_filled_from_the_stored_payloads(db_url):
    """0006 adds event_record.category / .channel and fills them from each stored payload (what the annual
    report counts by), the same values store.events.event_record_from writes for a new event."""
    import json
    import uuid

    from alembic import command

    from store.db import alembic_config, create_db_engine
    from store.events import event_record_from

    schema = None
    if db_url.startswith("sqlite"):
        eng = create_db_engine(db_url)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = create_db_engine(db_url, connect_args={"options": f"-csearch_path={schema}"})
    events = [
        {"event_id": "e1", "type": "request.received", "request_id": "R1", "department": "qz-fgw",
         "received_on": "2026-03-02", "channel": "online", "applicant_type": "legal.business", "subject": "s"},
        {"event_id": "e2", "type": "request.replied", "request_id": "R1", "on": "2026-03-20", "outcome": "granted"},
        {"event_id": "e3", "type": "document.signed", "document_id": "D1", "department": "qz-fgw", "title": "t",
         "kind": "normative", "signed_on": "2026-03-01", "disclosure": "public"},
        {"event_id": "e4", "type": "document.published", "document_id": "D1", "published_on": "2026-03-05",
         "url": "https://x.gov.cn/d1"},
        {"event_id": "e5", "type": "request.withdrawn", "request_id": "R2", "on": "2026-03-06"},
    ]  # fmt: skip
    try:
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0005_clock_summary")
        with eng.begin() as conn:
            for ev in events:
                conn.execute(
                    text(
                        "insert into event_record (event_id, type, item_id, department, payload, content_hash,"
                        " occurred_on, ingested_at) values (:id, :type, 'X', 'qz-fgw', :payload, 'h', '2026-03-01',"
                        " '2026-03-01')"
                    ),
                    {"id": ev["event_id"], "type": ev["type"], "payload": json.dumps(ev, ensure_ascii=False)},
                )
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with eng.connect() as conn:
            got = {
                r[0]: (r[1], r[2]) for r in conn.execute(text("select event_id, category, channel from event_record"))
            }
        assert got == {
            "e1": ("legal.business", "online"),
            "e2": ("granted", None),
            "e3": ("normative", None),
            "e4": (None, None),  # no channel given: the report reads it as website, as the payload says nothing
            "e5": (None, None),
        }
        for ev in events:  # a new event gets the same columns
            rec = event_record_from(ev)
            assert (rec.category, rec.channel) == got[ev["event_id"]]
    finally:
        eng.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def test_item_flags_are_filled_from_the_stored_data(db_url):
    """0014 adds item.flags and fills it from each stored item's data: the same bits store.items.save_snapshot
    writes for a new snapshot (domain.flags.flag_bits), so the board's lists find the items of before."""
    import json
    import uuid

    from alembic import command

    from domain.flags import flag_bits
    from store.db import alembic_config, create_db_engine

    rows = {
        "plain": ("request", {"start_on": "2026-03-02"}),
        "corrected": ("request", {"correction": {"on": "2026-03-03"}}),
        "consulted": ("request", {"consultations": [{"from": "2026-03-04"}]}),
        "relinked": ("request", {"after_withdrawal": "R0"}),
        "unreachable": ("request", {"unreachable": {"since": "2026-03-05"}}),
        "fee": ("request", {"fee": {"notice_on": "2026-03-05"}}),
        "moved": ("request", {"receipt": {"basis": "mail_signed"}}),
        "typed": ("request", {"receipt": {"basis": "received_on"}}),
        "both": ("request", {"correction": {"on": "2026-03-03"}, "reply_delayed": {"to": "2026-04-30"}}),
        "withheld": ("document", {"disclosure": "withheld"}),
        "on-request": ("document", {"disclosure": "on_request"}),
        "normative": ("document", {"kind": "normative", "needs_interpretation": False}),
        "interpreted": ("document", {"kind": "normative", "needs_interpretation": True}),
        "public": ("document", {"disclosure": "public"}),
        "case": ("case", {"correction": {"on": "2026-03-03"}}),
    }
    schema = None
    if db_url.startswith("sqlite"):
        eng = create_db_engine(db_url)
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(db_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        eng = create_db_engine(db_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "0012_scale")
        with eng.begin() as conn:
            for id_, (typ, data) in rows.items():
                conn.execute(
                    text(
                        "insert into item (id, type, department, title, state, version, data, created_at,"
                        " updated_at) values (:id, :type, 'qz-fgw', 't', 'open', 1, :data, '2026-01-01',"
                        " '2026-01-01')"
                    ),
                    {"id": id_, "type": typ, "data": json.dumps(data)},
                )
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        with eng.connect() as conn:
            got = dict(conn.execute(text("select id, flags from item")).all())
        assert got == {id_: flag_bits(typ, data) for id_, (typ, data) in rows.items()}
        assert got["plain"] is None and got["both"] == 6 and got["normative"] == 1 and got["case"] is None
        with eng.connect() as conn:
            names = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("item")}
            late = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes("event_record")}
        assert names["ix_item_flags"] == ["flags", "type", "state", "department", "id"]
        assert late["ix_event_record_registration_late"][-2:] == ["lag_working_days", "event_id"]
    finally:
        eng.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
