"""The `shixian` command line. Chinese for people, JSON/CSV for machines.

The composition of the command groups: each module of this package defines its commands or its Typer sub-app
at module level; this file adds them, in the order `shixian --help` lists them.
"""

from __future__ import annotations

import sys

import typer

from app.cli import (
    audit,
    calendar,
    catalogue,
    config,
    deadline,
    directory,
    items,
    ledger,
    notify,
    onboarding,
    prod,
    reports,
    review,
    up,
    users,
    web,
)

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help="时限：政务公开法定时限与合规引擎"
)

app.command()(deadline.deadline)
app.add_typer(calendar.calendar_app, name="calendar")
app.add_typer(catalogue.catalogue_app, name="catalogue")
app.add_typer(config.config_app, name="config")
app.command("up")(up.up_command)
app.command("worker")(prod.worker_command)
app.command("web")(prod.web_command)
app.command("schedules")(prod.schedules_command)
app.add_typer(items.events_app, name="events")
app.command()(items.status)
app.command()(items.overdue)
calendar.calendar_app.command("reload")(items.calendar_reload)
app.add_typer(notify.notify_app, name="notify")
app.command("deliveries")(notify.deliveries)
app.add_typer(reports.export_app, name="export")
app.add_typer(reports.scores_app, name="scores")
app.command("annual-lock")(reports.annual_lock_cmd)
app.command("annual-report")(reports.annual_report_cmd)
app.add_typer(web.token_app, name="token")
app.command("import")(ledger.import_ledger)
app.add_typer(users.user_app, name="user")
app.add_typer(directory.directory_app, name="directory")


@app.callback()
def _root() -> None:
    """时限：政务公开法定时限与合规引擎"""
    from app.composition import register_sources

    register_sources()  # the directory edited on the admin page, once seeded


app.add_typer(review.review_app, name="review")
app.add_typer(onboarding.onboarding_app, name="onboarding")
app.add_typer(audit.audit_app, name="audit")


def main() -> None:
    """Run the command, then leave with os._exit: the Temporal SDK's core can crash the interpreter's own
    finalisation (sdk-python#300, "PyGILState_Release"), turning a finished command into SIGABRT."""
    import logging
    import os

    from domain.settings import SettingsError
    from store.disk import DiskFull

    code = 0
    try:
        app()
    except SettingsError as exc:  # e.g. SHIXIAN_AUDIT_RETENTION_DAYS below the legal minimum
        print(f"错误：{exc}", file=sys.stderr)
        code = 2
    except DiskFull as exc:  # a full disk is the operator's to fix, not a traceback
        print(f"{exc}；请清理数据目录所在磁盘后重试（可原样重试：已生效的事件不会重复登记）", file=sys.stderr)
        code = 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = exc.code or 0
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
