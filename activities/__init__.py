"""Temporal activities. ACTIVITIES: the plain functions; activities that need a dependency are methods of
a class constructed in the composition root (app/composition.py: AnnualActivities, ImportJobActivities)."""

from activities.clocks import (
    compute_clocks,
    correction_period,
    fee_period,
    plan_steps,
)
from activities.digests import digest_day, plan_digests
from activities.import_jobs import fail_import_job
from activities.notify import drain_all, drain_channel, notification_recipients, send_batch, send_notification
from activities.store import (
    appeal_windows_open,
    lapse_appeal_windows,
    record_due_change,
    record_fact,
    reproject_closed,
    save_item,
)
from activities.sweep import sweep_department, sweep_departments

ACTIVITIES: list = [
    compute_clocks,
    plan_steps,
    save_item,
    record_fact,
    record_due_change,
    appeal_windows_open,
    lapse_appeal_windows,
    correction_period,
    reproject_closed,
    fee_period,
    send_notification,
    notification_recipients,
    send_batch,
    drain_channel,
    drain_all,
    digest_day,
    plan_digests,
    sweep_departments,
    sweep_department,
    fail_import_job,
]
