"""Read-model tables. Owned by the store; filled by activities and the ingest path."""
