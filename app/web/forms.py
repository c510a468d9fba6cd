"""Event forms generated from the pydantic models of domain/events.py (no hand-written form per type).

Labels and help come from each field's `title` / `description`; enumerations become selects with the
Chinese names of `CHOICE_LABELS` (outcome codes grouped as the rows of 表三); dates become date inputs.
A new event type gets its form by adding its model to `domain.events.MODELS`.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.events import CHOICE_LABELS, ENGINE_ONLY, ITEM_ID_FIELDS, MODELS, OUTCOME_GROUPS

SKIP = {"event_id", "type", "recorded_by", "applicant"}  # applicant: personal data, never asked for
INSTANTS = {"detected_at", "at", "submitted_at"}


@dataclass
class FormField:
    name: str
    label: str
    help: str = ""
    kind: str = "text"  # text · date · datetime · number · select · bool · textarea
    required: bool = False
    choices: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (group, [(value, label)])
    value: str = ""
    readonly: bool = False
    error: str | None = None


def form_types() -> list[str]:
    return [t for t in MODELS if t not in ENGINE_ONLY]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(inner type, optional?) of Optional[X] / X | None."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            inner = args[0]
            if typing.get_origin(inner) is typing.Annotated:  # e.g. HappenedDay | None: a date field
                inner = typing.get_args(inner)[0]
            return inner, True
    return annotation, False


def _choices(name: str, values: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    labels = CHOICE_LABELS.get(name, {})
    if name != "outcome":
        return [("", [(v, labels.get(v, v)) for v in values])]
    groups: dict[str, list[tuple[str, str]]] = {}
    for v in values:  # grouped as the rows of 表三
        groups.setdefault(OUTCOME_GROUPS.get(v.split(".")[0], "其他"), []).append((v, labels.get(v, v)))
    return list(groups.items())


def build_fields(type_: str, departments: dict[str, str]) -> list[FormField]:
    model = MODELS[type_]
    out: list[FormField] = []
    for name, info in model.model_fields.items():
        if name in SKIP:
            continue
        shown = "with" if name == "with_" else name
        inner, optional = _unwrap(info.annotation)
        f = FormField(name=shown, label=info.title or shown, help=info.description or "", required=info.is_required())
        if typing.get_origin(inner) is Literal:
            f.kind = "select"
            f.choices = _choices(shown, [str(a) for a in typing.get_args(inner)])
        elif inner is dt.date:
            f.kind = "date"
        elif inner is bool:
            f.kind = "bool"
            f.choices = [("", ([("", "（按默认）")] if optional else []) + [("true", "是"), ("false", "否")])]
        elif inner is int:
            f.kind = "number"
        elif shown in INSTANTS:
            f.kind = "datetime"
        elif shown == "department":
            f.kind = "select"
            f.choices = [("", list(departments.items()))]
        elif shown in ("reason", "withheld_reason", "disclosure_reason", "subject", "complex_reason", "urgent_reason"):
            f.kind = "textarea"
        if info.default is not None and not info.is_required() and not isinstance(info.default, type(...)):
            f.value = "true" if info.default is True else "false" if info.default is False else str(info.default)
        out.append(f)
    if type_ == "request.received":
        out += _applicant_fields()
    return out


# The applicant's identity, asked only to link requests of one applicant (撤回后重新申请, 同日多件): the ingest
# path keeps its keyed hash and drops the identity before anything is stored (domain.pii.applicant_key).
APPLICANT_FIELDS = {"applicant_name": "name", "applicant_number": "number"}


def _applicant_fields() -> list[FormField]:
    why = "选填，仅用于识别同一申请人（撤回后重新申请、同日多件申请）：系统只保存其密钥散列，不保存姓名和号码"
    return [
        FormField(name="applicant_name", label="申请人姓名或名称", help=why),
        FormField(name="applicant_number", label="证件号码或统一社会信用代码", help=why),
    ]


def _applicant(form: dict[str, str]) -> dict[str, str] | None:
    name = (form.get("applicant_name") or "").strip()
    number = (form.get("applicant_number") or "").strip()
    if not (name or number):
        return None
    # a natural person gives an ID number, an organisation its code (the hash treats both alike)
    key = "id_number" if (form.get("applicant_type") or "") == "natural_person" else "org_code"
    return {"name": name, key: number}


def to_event(type_: str, form: dict[str, str]) -> dict[str, Any]:
    """The event object of a posted form: field names as in events.md; empty inputs left out."""
    obj: dict[str, Any] = {"type": type_, "event_id": form.get("event_id", "")}
    for f in build_fields(type_, {}):
        if f.name in APPLICANT_FIELDS:
            continue
        raw = (form.get(f.name) or "").strip()
        if raw == "":
            continue
        if f.kind == "number":
            try:
                obj[f.name] = int(raw)
            except ValueError:
                obj[f.name] = raw  # refused by the model with a Chinese reason
        elif f.kind == "bool":
            obj[f.name] = raw == "true"
        else:
            obj[f.name] = raw
    if type_ == "request.received" and (applicant := _applicant(form)):
        obj["applicant"] = applicant
    return obj


def item_field(type_: str) -> str | None:
    fields = MODELS[type_].model_fields
    return next((k for k in ITEM_ID_FIELDS if k in fields), None)
