"""``ollama-webmgr db info``: a plain-text summary of a store."""

from __future__ import annotations

import datetime as dt

from ollama_webmgr.store.database import open_database
from ollama_webmgr.store.migrate import table_counts


def describe(url: str) -> str:
    """Backend, location, size, rows per table and oldest raw sample of ``url``."""
    db = open_database(url)
    try:
        size = db.size_bytes()
        oldest = db.oldest_sample()
        lines = [
            f"backend        {db.backend}",
            f"location       {db.location()}",
            f"size           {_size(size)}",
            "oldest sample  "
            + (
                dt.datetime.fromtimestamp(oldest, dt.UTC).isoformat() if oldest else "-"
            ),
            "rows:",
        ]
        lines += [f"  {t:<22} {n:>10}" for t, n in table_counts(db).items()]
        return "\n".join(lines)
    finally:
        db.close()


def _size(size: int | None) -> str:
    """
    >>> _size(3_500_000)
    '3.3 MiB'
    >>> _size(None)
    'unknown'
    """
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
