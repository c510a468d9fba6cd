"""Temporal activities. The worker (worker/main.py) registers every function listed in ACTIVITIES."""
from activities.clocks import compute_clock, plan_steps, record_due_change, record_system_event, save_snapshot
from activities.notify import notification_recipients, send_notification
from activities.digests import digest_day, plan_digests

ACTIVITIES: list = [
    compute_clock, plan_steps, save_snapshot, record_due_change, record_system_event,
    send_notification, notification_recipients,
]
ACTIVITIES += [digest_day, plan_digests]
