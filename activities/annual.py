"""Opening the annual-report clocks of a year for every department (条例第四十九条)."""
from __future__ import annotations

from pydantic import BaseModel
from temporalio import activity


class OpenReports(BaseModel):
    year: int


@activity.defn
async def open_annual_report_clocks(req: OpenReports) -> list[str]:
    """Ingest `annual_report.year_closed` for every department and report level in the directory.

    Goes through the ordinary ingest path with deterministic event ids, so a retried or repeated run
    reports duplicates and changes nothing."""
    from app.ingest import Ingestor
    from domain.directory import load_directory
    from domain.events import annual_report_openers

    events = annual_report_openers(load_directory().departments.values(), req.year)
    results = await Ingestor(activity.client(), internal=True).ingest(list(enumerate(events, start=1)))
    return [r.text() for r in results]
