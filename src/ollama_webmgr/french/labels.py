"""French wording of running models: GPU share and expiry (Jinja filters too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Ollama reports "forever" as now + ~292 years; anything this far is permanent.
_FOREVER = timedelta(days=365 * 100)


def gpu_share(size: int, size_vram: int) -> str:
    """Where a loaded model sits, as ``ollama ps`` says it, in French.

    >>> gpu_share(100, 100), gpu_share(100, 0), gpu_share(100, 48)
    ('100 % GPU', 'CPU', '52 % CPU / 48 % GPU')
    >>> gpu_share(0, 0)
    'CPU'
    """
    if size <= 0 or size_vram <= 0:
        return "CPU"
    if size_vram >= size:
        return "100 % GPU"
    gpu = round(size_vram * 100 / size)
    return f"{100 - gpu} % CPU / {gpu} % GPU"


def expiry(expires_at: datetime | None, now: datetime | None = None) -> str:
    """« expire dans 4 min », « permanent », « expire bientôt ».

    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> expiry(t + timedelta(minutes=4, seconds=10), t)
    'expire dans 4 min'
    >>> expiry(t + timedelta(seconds=42), t), expiry(t + timedelta(hours=2), t)
    ('expire dans 42 s', 'expire dans 2 h')
    >>> expiry(t.replace(year=2318), t), expiry(None, t), expiry(t, t)
    ('permanent', '—', 'expire bientôt')
    """
    if expires_at is None:
        return "—"
    now = now or datetime.now(UTC)
    left = expires_at - now
    if left >= _FOREVER:
        return "permanent"
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "expire bientôt"
    if seconds < 60:
        return f"expire dans {seconds} s"
    if seconds < 3600:
        return f"expire dans {seconds // 60} min"
    if seconds < 86400:
        return f"expire dans {seconds // 3600} h"
    return f"expire dans {seconds // 86400} j"
