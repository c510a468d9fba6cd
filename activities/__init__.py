"""Temporal activities. The worker (worker/main.py) registers every function listed in ACTIVITIES."""
from activities.clocks import compute_clock, plan_steps, record_due_change, record_system_event, save_snapshot
from activities.notify import notification_recipients, send_notification

ACTIVITIES: list = [
    compute_clock, plan_steps, save_snapshot, record_due_change, record_system_event,
    send_notification, notification_recipients,
]
