"""Origin patterns as ``OLLAMA_ORIGINS`` takes them (read by the settings and
checked by the gateway's CORS)."""

from __future__ import annotations


def valid_pattern(pattern: str) -> bool:
    """``scheme://rest`` with at most one ``*``, or ``*`` alone.

    >>> valid_pattern("https://*.example.com"), valid_pattern("example.com")
    (True, False)
    """
    if pattern == "*":
        return True
    scheme, sep, rest = pattern.partition("://")
    return (
        bool(scheme and sep and rest)
        and pattern.count("*") <= 1
        and (" " not in pattern)
    )
