"""Temporal activities. The worker (worker/main.py) registers every function listed in ACTIVITIES."""

# Filled by the lead: the activity functions of Shixian (sync ones run in a thread pool).
ACTIVITIES: list = []
