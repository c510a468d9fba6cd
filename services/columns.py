"""Use case: the column ledger (栏目台账) of the departments a principal may read (domain/columns.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from domain.columns import column_ledger
from domain.engine import engine
from store.scope import Departments


class ColumnLedgerRow(BaseModel):
    """One row of the ledger, by its Chinese column headers (domain.labels.COLUMN_LEDGER_HEADERS)."""

    model_config = ConfigDict(populate_by_name=True)

    column_id: str = Field(alias="栏目编号")
    name: str = Field(alias="栏目名称")
    kind: str = Field(alias="类型")
    url: str = Field(alias="网址")
    last_update: str = Field(alias="最近更新日期", description="YYYY-MM-DD；未登记更新时为空")
    period: str = Field(alias="更新周期", description="如 每14日、每6个月")
    due: str = Field(alias="当前期限", description="本期到期日；栏目已关闭时为空")
    department: str = Field(alias="部门")
    state: str = Field(description="本期状态：open / closed / missed ...")
    periods: int = Field(description="已结束的周期数")
    on_time: int = Field(description="其中按时更新的")
    late: int = Field(description="其中超期更新的")


class ColumnLedger(BaseModel):
    department: str | None = None
    node: str | None = None
    rows: list[ColumnLedgerRow] = Field(default_factory=list)


def column_ledger_view(department: Departments) -> list[ColumnLedgerRow]:
    from services.views import department_names
    from store.db import session
    from store.items import list_items

    with session() as s:
        snaps = list_items(s, department=department, type="column")
    return [ColumnLedgerRow.model_validate(r) for r in column_ledger(snaps, engine().rules, department_names())]
