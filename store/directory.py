"""The directory in the store: departments and people as edited on the admin page, and the history of changes.

Each row keeps one `[[department]]` / `[[person]]` entry exactly as departments.toml would hold it (the same
keys, `go_live` as an ISO date, notify URLs with their `${NAME}` references unexpanded), so the store and the
file are one format: services.directory validates every change through domain.directory.parse_directory and
exports the rows back as TOML. Every change appends a `directory_change` row (who, when, before/after); its
largest id is the directory's version, which readers poll cheaply to notice an edit made elsewhere.
An empty store (no department and no person) means "not seeded": the TOML file is the directory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from store.models import UTCDateTime, utcnow


def _ts() -> Column:
    return Column(UTCDateTime(timezone=True), nullable=False)


class DirectoryDepartment(SQLModel, table=True):
    __tablename__ = "directory_department"

    id: str = Field(primary_key=True)
    position: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DirectoryPerson(SQLModel, table=True):
    __tablename__ = "directory_person"

    id: str = Field(primary_key=True)
    position: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DirectoryChange(SQLModel, table=True):
    """One change of the directory: `kind` department / person / import, `action` create / update / import."""

    __tablename__ = "directory_change"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    by: str
    kind: str
    object: str = Field(index=True)
    action: str
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


def version(s: Session) -> int:
    """Bumped by every change (the id of the last one); 0 for a store never edited."""
    return int(s.exec(select(func.max(DirectoryChange.id))).one() or 0)


def is_seeded(s: Session) -> bool:
    return s.exec(select(DirectoryDepartment.id).limit(1)).first() is not None or (
        s.exec(select(DirectoryPerson.id).limit(1)).first() is not None
    )


def entries(s: Session) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The department and person entries in their order (TOML-shaped dicts)."""
    depts = s.exec(select(DirectoryDepartment).order_by(col(DirectoryDepartment.position), col(DirectoryDepartment.id)))
    people = s.exec(select(DirectoryPerson).order_by(col(DirectoryPerson.position), col(DirectoryPerson.id)))
    return [dict(d.data) for d in depts], [dict(p.data) for p in people]


def _next_position(s: Session, model) -> int:
    return int(s.exec(select(func.max(model.position))).one() or 0) + 1


def _put(s: Session, model, kind: str, data: dict[str, Any], by: str) -> DirectoryChange:
    row = s.get(model, data["id"])
    before = dict(row.data) if row is not None else None
    if row is None:
        row = model(id=data["id"], position=_next_position(s, model), data=dict(data))
    else:
        row.data = dict(data)
        row.updated_at = utcnow()
    s.add(row)
    change = DirectoryChange(
        by=by, kind=kind, object=data["id"], action="create" if before is None else "update", before=before, after=data
    )
    s.add(change)
    s.commit()
    s.refresh(change)
    return change


def put_department(s: Session, data: dict[str, Any], by: str) -> DirectoryChange:
    """Create or replace one department entry (already validated) and record the change. Commits."""
    return _put(s, DirectoryDepartment, "department", data, by)


def put_person(s: Session, data: dict[str, Any], by: str) -> DirectoryChange:
    """Create or replace one person entry (already validated) and record the change. Commits."""
    return _put(s, DirectoryPerson, "person", data, by)


def replace_all(
    s: Session, departments: list[dict[str, Any]], people: list[dict[str, Any]], by: str, source: str
) -> DirectoryChange:
    """The whole directory replaced (an import from TOML): one change naming the source. Commits."""
    old_depts, old_people = entries(s)
    s.exec(delete(DirectoryDepartment))
    s.exec(delete(DirectoryPerson))
    for i, d in enumerate(departments, start=1):
        s.add(DirectoryDepartment(id=d["id"], position=i, data=dict(d)))
    for i, p in enumerate(people, start=1):
        s.add(DirectoryPerson(id=p["id"], position=i, data=dict(p)))
    before = {"department": old_depts, "person": old_people} if old_depts or old_people else None
    change = DirectoryChange(
        by=by,
        kind="import",
        object=source,
        action="import",
        before=before,
        after={"department": len(departments), "person": len(people)},
    )
    s.add(change)
    s.commit()
    s.refresh(change)
    return change


def changes(s: Session, limit: int = 200, object: str | None = None) -> list[DirectoryChange]:
    q = select(DirectoryChange).order_by(col(DirectoryChange.id).desc()).limit(limit)
    if object is not None:
        q = q.where(DirectoryChange.object == object)
    return list(s.exec(q).all())
