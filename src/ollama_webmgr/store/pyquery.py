"""``Where`` conditions and ordering evaluated in Python (the TinyDB backend).

Semantics match the SQL backends: a missing field or ``None`` only satisfies
``== None``; values of different kinds (text against a number) never match.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from ollama_webmgr.store.database import Doc, Where

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _kind(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return "number"
    return type(value).__name__


def matches(doc: Doc, where: Sequence[Where]) -> bool:
    return all(_holds(doc.get(w.field), w) for w in where)


def _holds(current: Any, w: Where) -> bool:
    if w.value is None:
        return (current is None) == (w.op == "==")
    if current is None:
        return False
    if w.op == "in":
        return any(_kind(v) == _kind(current) and current == v for v in w.value)
    if _kind(current) != _kind(w.value):
        return False
    try:
        return bool(_OPS[w.op](current, w.value))
    except TypeError:  # e.g. two dicts compared with <
        return False


def sort_docs(docs: list[Doc], order_by: str | None, descending: bool) -> list[Doc]:
    """Sort like the SQL backends: missing values first ascending, last descending."""
    if order_by is None:
        return sorted(
            docs, key=lambda d: (d["created_at"], d["id"]), reverse=descending
        )
    present = [d for d in docs if d.get(order_by) is not None]
    missing = [d for d in docs if d.get(order_by) is None]
    missing.sort(key=lambda d: d["id"])
    present.sort(key=lambda d: d["id"])
    try:
        present.sort(key=lambda d: _sort_key(d[order_by]), reverse=descending)
    except TypeError:
        present.sort(key=lambda d: str(d[order_by]), reverse=descending)
    return present + missing if descending else missing + present


def _sort_key(value: Any) -> tuple[int, Any]:
    # numbers before text, as in SQLite
    return (0, value) if _kind(value) == "number" else (1, value)
