"""``ollama-webmgr db info``: a plain-text summary of a store."""

from __future__ import annotations

import datetime as dt

from ollama_webmgr.store.database import open_existing_database
from ollama_webmgr.store.migrate import table_counts


def describe(url: str) -> str:
    """Backend, location, size, rows per table and oldest raw sample of ``url``."""
    db = open_existing_database(url)
    try:
        size = db.size_bytes()
        oldest = db.oldest_sample()
        lines = [
            f"moteur                     {db.backend}",
            f"emplacement                {db.location()}",
            f"taille                     {_size(size)}",
            "plus ancien échantillon    " + (_when(oldest) if oldest else "aucun"),
            "lignes par table :",
        ]
        lines += [f"  {t:<22} {n:>10}" for t, n in table_counts(db).items()]
        return "\n".join(lines)
    finally:
        db.close()


def _when(ts: float) -> str:
    """``JJ/MM/AAAA HH:MM:SS UTC``.

    >>> _when(1_700_000_000)
    '14/11/2023 22:13:20 UTC'
    """
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%d/%m/%Y %H:%M:%S UTC")


def _size(size: int | None) -> str:
    """In binary units, the French way.

    >>> _size(3_500_000), _size(512)
    ('3,3 Mio', '512 o')
    >>> _size(None)
    'inconnue'
    """
    if size is None:
        return "inconnue"
    value = float(size)
    for unit in ("o", "Kio", "Mio", "Gio"):
        if value < 1024 or unit == "Gio":
            text = f"{value:.0f}" if unit == "o" else f"{value:.1f}".replace(".", ",")
            return f"{text} {unit}"
        value /= 1024
    return f"{size} o"
