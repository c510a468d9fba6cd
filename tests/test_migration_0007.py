"""0007_accounts_security on SQLite and PostgreSQL: tokens made before it get an expiry from the upgrade on
(the default term, so no integration stops at once), credentials get an empty sign-in record."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import create_engine, text


def test_existing_tokens_get_the_default_term_and_credentials_a_sign_in_record(db_url, monkeypatch):
    from alembic import command

    from store.db import alembic_config, create_db_engine
    from store.models import utcnow
    from store.tokens import verify

    monkeypatch.setenv("SHIXIAN_TOKEN_DAYS", "30")
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
            command.upgrade(alembic_config(conn), "0006_annual_report")
        import hashlib

        with eng.begin() as conn:
            conn.execute(
                text(
                    "insert into api_token (id, hash, role, label, created_at) values"
                    " ('abc1234567', :h, 'supervisor', '', '2025-01-01 00:00:00+00:00')"
                ),
                {"h": hashlib.sha256(b"abc1234567:secret").hexdigest()},
            )
            conn.execute(text("insert into credential (person, updated_at) values ('p1', '2025-01-01 00:00:00+00:00')"))
        before = utcnow()
        with eng.begin() as conn:
            command.upgrade(alembic_config(conn), "head")
        from sqlmodel import Session

        from store.accounts import Credential
        from store.tokens import ApiToken

        with Session(eng) as s:
            tok = s.get(ApiToken, "abc1234567")
            assert tok is not None
            assert before + dt.timedelta(days=30) - dt.timedelta(minutes=1) < tok.expires_at
            assert tok.expires_at < utcnow() + dt.timedelta(days=30, minutes=1)
            assert verify(s, "sx_abc1234567_secret") is not None  # still works after the upgrade
            cred = s.get(Credential, "p1")
            assert cred is not None and (cred.last_login_at, cred.last_login_from, cred.failed_logins) == (
                None,
                None,
                0,
            )
    finally:
        eng.dispose()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
