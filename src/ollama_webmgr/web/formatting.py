"""French display helpers, registered as Jinja filters by the app factory."""

from __future__ import annotations

_UNITS = ("o", "ko", "Mo", "Go", "To", "Po")


def format_size(size: int | float | None) -> str:
    """A byte count the French way, in decimal units like ``ollama list``.

    >>> format_size(4_683_087_332)
    '4,7 Go'
    >>> format_size(815_319_791)
    '815 Mo'
    >>> format_size(19_000_000_000)
    '19 Go'
    >>> format_size(2_000_000_000)
    '2 Go'
    >>> format_size(999)
    '999 o'
    >>> format_size(999_999)
    '1 Mo'
    >>> format_size(None)
    '—'
    """
    if size is None or size < 0:
        return "—"
    value = float(size)
    unit = 0
    while unit < len(_UNITS) - 1 and round(value, 1) >= 1000:
        value /= 1000
        unit += 1
    if value < 10 and round(value, 1) != round(value):
        number = f"{value:.1f}".replace(".", ",")
    else:
        number = f"{round(value):d}"
    return f"{number} {_UNITS[unit]}"
