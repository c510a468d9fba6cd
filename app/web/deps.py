"""FastAPI dependencies shared by routes (as fastapi/full-stack-fastapi-template's api/deps.py).

`SessionDep`: one store session per request, from store.db.session() on the migrated store, closed when
the response is done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlmodel import Session

from store.db import init_db, session


def get_session() -> Iterator[Session]:
    with session(init_db()) as s:
        yield s


SessionDep = Annotated[Session, Depends(get_session)]
