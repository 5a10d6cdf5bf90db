"""Flask glue: one ``DatabaseManager`` per app, kept in ``app.extensions``."""

from __future__ import annotations

from flask import Flask, current_app

from ollama_webmgr.errors import StoreError
from ollama_webmgr.store.database import DatabaseManager

EXTENSION_KEY = "ollama_webmgr.db"


def init_db(app: Flask, db: DatabaseManager) -> DatabaseManager:
    """Attach ``db`` to ``app``; the caller owns it and closes it at shutdown."""
    app.extensions[EXTENSION_KEY] = db
    return db


def get_db() -> DatabaseManager:
    """The database of the current app (inside an app or request context)."""
    db = current_app.extensions.get(EXTENSION_KEY)
    if not isinstance(db, DatabaseManager):
        raise StoreError("no database attached to this app (call init_db first)")
    return db
