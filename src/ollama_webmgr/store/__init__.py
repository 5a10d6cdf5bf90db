"""Persistence: ``open_database(url)`` returns a ``DatabaseManager``.

Backends: SQLite (default), PostgreSQL (SQLAlchemy Core), TinyDB (one JSON file).
"""

from ollama_webmgr.store.database import (
    TABLES,
    DatabaseManager,
    Rollup,
    Sample,
    Where,
    open_database,
)

__all__ = ["TABLES", "DatabaseManager", "Rollup", "Sample", "Where", "open_database"]
