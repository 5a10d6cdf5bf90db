"""Translate ``Where`` conditions into SQL on the JSON document column.

SQLite's ``json_extract`` returns native SQL values (numbers compare as numbers,
JSON null and missing keys as NULL). PostgreSQL compares ``jsonb`` values, which
order numbers numerically and strings as text; its JSON null is not SQL NULL, so
every comparison also requires ``doc->>field IS NOT NULL``, as SQLite does.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ollama_webmgr.store.database import META_FIELDS, Where

_SQL_OPS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def order_expr(t: sa.Table, field: str, backend: str) -> Any:
    if field in META_FIELDS:
        return t.c[field]
    if backend == "postgresql":
        return t.c.doc.op("->", return_type=_jsonb())(sa.literal(field))
    return sa.func.json_extract(t.c.doc, f'$."{field}"')


def _is_null(t: sa.Table, field: str, backend: str) -> Any:
    if field in META_FIELDS:
        return t.c[field].is_(None)
    if backend == "postgresql":
        return t.c.doc.op("->>", return_type=sa.String)(sa.literal(field)).is_(None)
    return sa.func.json_extract(t.c.doc, f'$."{field}"').is_(None)


def condition(t: sa.Table, where: Where, backend: str) -> Any:
    field, op, value = where.field, where.op, where.value
    if value is None:
        null = _is_null(t, field, backend)
        return null if op == "==" else sa.not_(null)
    expr = order_expr(t, field, backend)
    present = sa.not_(_is_null(t, field, backend))
    if op == "in":
        if not value:
            return sa.false()
        matches = [expr.op("=")(_json_value(v, field, backend)) for v in value]
        return sa.and_(present, sa.or_(*matches))
    return sa.and_(
        present,
        expr.op(_SQL_OPS[op], is_comparison=True)(_json_value(value, field, backend)),
    )


def _json_value(value: Any, field: str, backend: str) -> Any:
    if field in META_FIELDS or backend != "postgresql":
        return sa.literal(value)
    return sa.literal(value, type_=_jsonb())


def _jsonb() -> Any:
    """PostgreSQL's JSONB type, its dialect imported only when used."""
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB
