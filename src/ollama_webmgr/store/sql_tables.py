"""SQLAlchemy Core schema: one JSON document table per name, plus the time series.

Documents keep ``id`` / ``created_at`` / ``updated_at`` as real columns and the rest
as JSON (JSONB on PostgreSQL). Samples live in a narrow table indexed by
(server, metric, ts); rollups have one row per (server, metric, bucket).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Dialect,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

from ollama_webmgr.store.database import TABLES

metadata = MetaData()


class DocJSON(TypeDecorator[Any]):
    """JSON; JSONB on PostgreSQL, whose dialect (2 MB) is imported only there."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())


RowId = BigInteger().with_variant(Integer(), "sqlite")

documents: dict[str, Table] = {
    name: Table(
        name,
        metadata,
        Column("id", String(64), primary_key=True),
        Column("created_at", String(40), nullable=False, index=True),
        Column("updated_at", String(40), nullable=False),
        Column("doc", DocJSON(), nullable=False),
    )
    for name in TABLES
}

samples = Table(
    "server_stats",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("server", String(255), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("ts", Float, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_server_stats_series", "server", "metric", "ts"),
    Index("ix_server_stats_ts", "ts"),
)


def _rollup_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("server", String(255), primary_key=True),
        Column("metric", String(64), primary_key=True),
        Column("bucket", Float, primary_key=True),
        Column("count", BigInteger, nullable=False),
        Column("sum", Float, nullable=False),
        Column("min", Float, nullable=False),
        Column("max", Float, nullable=False),
    )


rollups: dict[str, Table] = {
    "hour": _rollup_table("server_stats_hourly"),
    "day": _rollup_table("server_stats_daily"),
}
