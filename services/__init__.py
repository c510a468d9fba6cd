"""Use cases shared by the worker and the interfaces (CLI, API, pages): read-model queries, scores,
event loading, calendar reload signalling, ingest. Below `worker` and `app`; may drive workflows."""
