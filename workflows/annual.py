"""Yearly kickoff: on January 1 every department's annual-report clock for the closed year starts."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.annual import AnnualActivities, OpenReports
    from domain.shanghai import SHANGHAI

ANNUAL_SCHEDULE_ID = "shixian-annual-report-clocks"


class KickoffInput(BaseModel):
    year: int | None = None  # the reporting year; default: the year that just closed


@workflow.defn(name="annual_report_kickoff")
class AnnualReportKickoffWorkflow:
    @workflow.run
    async def run(self, inp: KickoffInput) -> list[str]:
        year = inp.year or workflow.now().astimezone(SHANGHAI).year - 1
        return await workflow.execute_activity_method(
            AnnualActivities.open_annual_report_clocks,
            OpenReports(year=year),
            start_to_close_timeout=timedelta(minutes=10),
        )
