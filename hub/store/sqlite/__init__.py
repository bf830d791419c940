"""SQLite (WAL) store adapter: the embedded default."""
