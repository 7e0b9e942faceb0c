"""The store (SQLite FTS5 default, Elasticsearch) and the officers' web UI and API (issues 4, 6)."""
