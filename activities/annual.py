"""Opening the annual-report clocks of a year for every department (条例第四十九条)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from domain.engine import engine
from domain.events import annual_report_openers


class OpenReports(BaseModel):
    year: int


# events (canonical dicts) -> one result text per event, through the ordinary ingest path
IngestEvents = Callable[[list[Any]], Awaitable[list[str]]]


class AnnualActivities:
    """Constructed in the composition root (app/composition.py) with the ingest use case, so that
    activities do not import the layers above them (samples-python style activity class)."""

    def __init__(self, ingest: IngestEvents) -> None:
        self._ingest = ingest

    @activity.defn(name="open_annual_report_clocks")
    async def open_annual_report_clocks(self, req: OpenReports) -> list[str]:
        """Ingest `annual_report.year_closed` for every department and report level in the directory.

        Goes through the ordinary ingest path with deterministic event ids, so a retried or repeated run
        reports duplicates and changes nothing."""
        events = annual_report_openers(engine().directory.departments.values(), req.year)
        return await self._ingest(list(events))
