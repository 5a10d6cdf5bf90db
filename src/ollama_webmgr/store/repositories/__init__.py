"""Typed reads of the document tables, for the use cases and the faces.

A face or a use case asks one of these for what it shows (a server's agent
report, a model's size, the uptime report) and gets frozen records back, never
the table name, a ``Where`` or a raw document. They sit on the same
``DatabaseManager`` contract, so they behave alike on SQLite, PostgreSQL and
TinyDB (``tests/store/test_store_repositories.py`` runs them on all three).
"""

from ollama_webmgr.store.repositories.history import (
    REQUEST_TYPES,
    WINDOWS,
    History,
    Period,
    RequestPeriod,
    ServerHealth,
)
from ollama_webmgr.store.repositories.models import ModelRecord, ModelRecords
from ollama_webmgr.store.repositories.servers import ServerRecord, ServerRecords

__all__ = [
    "REQUEST_TYPES",
    "WINDOWS",
    "History",
    "ModelRecord",
    "ModelRecords",
    "Period",
    "RequestPeriod",
    "ServerHealth",
    "ServerRecord",
    "ServerRecords",
]
