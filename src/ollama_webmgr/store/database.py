"""The ``DatabaseManager`` interface: document tables plus a time-series store.

Every backend (SQLite, PostgreSQL, TinyDB) implements the same contract, proved by
one test suite (``tests/store/test_store_contract.py``):

* document tables (``TABLES``) with ``insert`` / ``get`` / ``update`` / ``upsert`` /
  ``delete`` / ``find`` / ``count``; every document gets a string ``id`` and UTC
  ISO-8601 ``created_at`` / ``updated_at`` strings, set by this layer;
* a narrow time series (``server_stats``: server, metric, ts, value) with hourly
  and daily rollups kept up to date on ingest, so long charts read rollups.

Pick a backend with ``open_database(url)``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ollama_webmgr.errors import InvalidStoreUrl, StoreError, StoreNotFound

Doc = dict[str, Any]
Op = Literal["==", "!=", "<", "<=", ">", ">=", "in"]
Resolution = Literal["raw", "hour", "day"]

#: document tables; ``server_stats`` is the time series (see ``add_samples``)
TABLES = ("servers", "models", "request_stats", "config", "jobs", "audit")
SERIES_TABLES = ("server_stats", "server_stats_hourly", "server_stats_daily")
META_FIELDS = ("id", "created_at", "updated_at")
OPS: tuple[Op, ...] = ("==", "!=", "<", "<=", ">", ">=", "in")
BUCKET_SECONDS = {"hour": 3600, "day": 86400}
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Where:
    """One condition on a top-level field.

    A missing field or ``None`` only matches ``== None``; ``!= None`` matches
    present values. ``in`` takes a list or tuple.

    >>> Where("load", ">=", 0.5)
    Where(field='load', op='>=', value=0.5)
    >>> Where("load", "~", 1)
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.StoreError: unknown operator '~' (use ==, !=, <, <=, >, >=, in)
    """

    field: str
    op: Op
    value: Any

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise StoreError(f"unknown operator {self.op!r} (use {', '.join(OPS)})")
        check_field(self.field)
        if self.op == "in" and not isinstance(self.value, list | tuple):
            raise StoreError("'in' needs a list of values")
        if self.value is None and self.op not in ("==", "!="):
            raise StoreError(f"None can only be compared with == or != ({self.field})")


@dataclass(frozen=True)
class Sample:
    """One measurement: ``ts`` in epoch seconds (UTC)."""

    server: str
    metric: str
    ts: float
    value: float


@dataclass(frozen=True)
class Rollup:
    """Aggregate of the samples of one bucket (``bucket`` = its start, epoch s)."""

    server: str
    metric: str
    bucket: float
    count: int
    sum: float
    min: float
    max: float

    @property
    def avg(self) -> float:
        return self.sum / self.count if self.count else 0.0


def now_iso() -> str:
    """Current UTC time, ISO-8601 with microseconds (sorts as text)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def new_id() -> str:
    return uuid.uuid4().hex


def check_field(name: object) -> None:
    """Field names are plain identifiers: they end up inside JSON paths."""
    if not isinstance(name, str) or not _FIELD.fullmatch(name):
        raise StoreError(f"invalid field name {name!r} (letters, digits, _ and -)")


def check_table(table: str) -> None:
    if table not in TABLES:
        raise StoreError(f"unknown table {table!r} (tables: {', '.join(TABLES)})")


def check_json(doc: Doc) -> None:
    """Refuse what JSON cannot hold, the same way on every backend."""
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"document is not JSON-serialisable: {exc}") from None


def new_document(doc: Doc) -> Doc:
    """Copy ``doc`` with its automatic fields set (a given ``id`` is kept)."""
    if not isinstance(doc, dict):
        raise StoreError("a document must be a dict")
    check_json(doc)
    stamp = now_iso()
    ident = doc.get("id") or new_id()
    if not isinstance(ident, str):
        raise StoreError("a document id must be a string")
    body = {k: v for k, v in doc.items() if k not in META_FIELDS}
    return {"id": ident, "created_at": stamp, "updated_at": stamp, **body}


def clean_changes(changes: Doc) -> Doc:
    if not isinstance(changes, dict):
        raise StoreError("changes must be a dict")
    check_json(changes)
    return {k: v for k, v in changes.items() if k not in META_FIELDS}


def upsert_keys(key_fields: Sequence[str], doc: Doc) -> list[Where]:
    """The equality conditions of an upsert; every key must be in ``doc``."""
    if not key_fields:
        raise StoreError("upsert needs at least one key field")
    missing = [k for k in key_fields if k not in doc]
    if missing:
        raise StoreError(f"upsert key missing from the document: {', '.join(missing)}")
    return [Where(k, "==", doc[k]) for k in key_fields]


def bucket_start(ts: float, resolution: str) -> float:
    size = BUCKET_SECONDS[resolution]
    return float(int(ts // size) * size)


def rollup_batch(samples: Iterable[Sample], resolution: str) -> list[Rollup]:
    """Pre-aggregate a batch so a backend writes one row per bucket, not per sample.

    >>> rows = rollup_batch([Sample("a", "m", 10, 1.0), Sample("a", "m", 20, 3.0)], "hour")
    >>> rows[0].count, rows[0].sum, rows[0].min, rows[0].max
    (2, 4.0, 1.0, 3.0)
    """
    acc: dict[tuple[str, str, float], list[float]] = {}
    for s in samples:
        key = (s.server, s.metric, bucket_start(s.ts, resolution))
        cur = acc.get(key)
        if cur is None:
            acc[key] = [1, s.value, s.value, s.value]
        else:
            cur[0] += 1
            cur[1] += s.value
            cur[2] = min(cur[2], s.value)
            cur[3] = max(cur[3], s.value)
    return [
        Rollup(srv, met, b, int(c), total, lo, hi)
        for (srv, met, b), (c, total, lo, hi) in acc.items()
    ]


def ensure_parent(path: str) -> Path:
    """Create the data directory of a file store (the caller names the file)."""
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create data directory {target.parent}: {exc}"
        ) from None
    return target


class DatabaseManager(ABC):
    """What every storage backend offers. Methods are safe to call from threads."""

    #: short name shown by ``db info``: sqlite, postgresql or tinydb
    backend: str = ""
    #: whether ``thread_handle`` exists: another OS thread may write through a
    #: handle of its own (``off_hub``)
    separate_handles: bool = False

    def thread_handle(self) -> DatabaseManager:
        """A handle on the same store for one other OS thread, made on first use.

        Under gevent a handle's locks are greenlet locks: an OS thread sharing
        them with the hub's greenlets waits far longer (or, for TinyDB, hangs).
        """
        raise NotImplementedError(f"{self.backend} has one handle per process")

    def ping(self) -> None:
        """A trivial read; raises when the store cannot answer (``/health``)."""
        self.count("config")

    # -- documents ------------------------------------------------------------
    @abstractmethod
    def insert(self, table: str, doc: Doc) -> str:
        """Store a new document and return its id (a given ``id`` must be new)."""

    @abstractmethod
    def insert_many(self, table: str, docs: Sequence[Doc]) -> list[str]:
        """Store several documents in one write; ids in input order."""

    @abstractmethod
    def get(self, table: str, doc_id: str) -> Doc | None:
        """The document with this id, or ``None``."""

    @abstractmethod
    def update(self, table: str, doc_id: str, changes: Doc) -> Doc | None:
        """Merge top-level ``changes``; the updated document, or ``None`` if absent."""

    @abstractmethod
    def increment(
        self, table: str, doc_id: str, field: str, by: float, changes: Doc
    ) -> Doc | None:
        """Add ``by`` to a numeric field (missing counts as 0) and merge ``changes``,
        atomically even between processes; ``None`` if the document is absent."""

    @abstractmethod
    def upsert(self, table: str, key_fields: Sequence[str], doc: Doc) -> str:
        """Update the document whose ``key_fields`` equal ``doc``'s, else insert."""

    @abstractmethod
    def delete(self, table: str, doc_id: str) -> bool:
        """Remove one document; whether it existed."""

    @abstractmethod
    def delete_where(self, table: str, where: Sequence[Where]) -> int:
        """Remove every matching document; how many."""

    @abstractmethod
    def find(
        self,
        table: str,
        where: Sequence[Where] = (),
        *,
        order_by: str | None = None,
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Doc]:
        """Matching documents (all conditions hold).

        Without ``order_by`` the order is by ``created_at`` then ``id``. Missing
        values sort first in ascending order, last in descending order.
        """

    @abstractmethod
    def count(self, table: str, where: Sequence[Where] = ()) -> int:
        """How many documents match."""

    @abstractmethod
    def put_many(self, table: str, docs: Sequence[Doc]) -> int:
        """Write documents exactly as given (id and timestamps kept): restore path."""

    # -- time series ------------------------------------------------------------
    @abstractmethod
    def add_samples(self, samples: Sequence[Sample], *, rollup: bool = True) -> int:
        """Append raw samples (one transaction) and fold them into the rollups."""

    @abstractmethod
    def query_series(
        self,
        servers: Sequence[str],
        metric: str,
        start: float,
        end: float,
        resolution: Resolution = "hour",
    ) -> list[Rollup]:
        """Points of ``metric`` for ``servers`` with ``start <= ts < end``.

        ``raw`` returns one point per sample (count 1). Sorted by server, then time.
        """

    @abstractmethod
    def prune_samples(self, before: float, resolution: Resolution = "raw") -> int:
        """Delete samples (or rollup buckets) older than ``before``; how many."""

    @abstractmethod
    def iter_samples(self, batch: int = 50_000) -> Iterator[list[Sample]]:
        """Every raw sample, in batches (migration)."""

    @abstractmethod
    def iter_rollups(
        self, resolution: Resolution, batch: int = 50_000
    ) -> Iterator[list[Rollup]]:
        """Every rollup row of ``hour`` or ``day``, in batches (migration)."""

    @abstractmethod
    def put_rollups(self, resolution: Resolution, rows: Sequence[Rollup]) -> int:
        """Write rollup rows as given, replacing same buckets (migration)."""

    @abstractmethod
    def clear_series(self) -> None:
        """Empty the raw samples and the rollups (migration target)."""

    @abstractmethod
    def series_counts(self) -> dict[str, int]:
        """Rows in ``server_stats``, ``server_stats_hourly``, ``server_stats_daily``."""

    @abstractmethod
    def oldest_sample(self) -> float | None:
        """Timestamp of the oldest raw sample, or ``None``."""

    # -- lifecycle ------------------------------------------------------------------
    @abstractmethod
    def size_bytes(self) -> int | None:
        """Space used on disk, when the backend can tell."""

    @abstractmethod
    def location(self) -> str:
        """Where the data lives (file path, or URL without password)."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release everything; the object is unusable afterwards."""

    def __enter__(self) -> DatabaseManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def opens_once(url: str) -> bool:
    """Whether only one process at a time may open the store at ``url``.

    >>> opens_once("tinydb:///data/webmgr.json"), opens_once("sqlite:///x.db")
    (True, False)
    """
    return url.startswith("tinydb:")


def open_database(url: str) -> DatabaseManager:
    """Open (and create if needed) the store named by ``url``.

    >>> open_database("mysql://x")
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.InvalidStoreUrl: unsupported DATABASE_URL scheme 'mysql' (use sqlite:///, postgresql+psycopg://, tinydb:///)
    """
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "tinydb":
        from ollama_webmgr.store.tinydb_backend import TinyDatabase

        return TinyDatabase(_file_path(url, "tinydb"))
    if scheme == "sqlite":
        from ollama_webmgr.store.sql_backend import SqlDatabase

        path = ensure_parent(_file_path(url, "sqlite"))
        return SqlDatabase(f"sqlite:///{path}")
    if scheme in ("postgresql", "postgresql+psycopg", "postgres"):
        from ollama_webmgr.store.sql_backend import SqlDatabase

        return SqlDatabase("postgresql+psycopg://" + url.split("://", 1)[1])
    raise InvalidStoreUrl(
        f"unsupported DATABASE_URL scheme {scheme!r}"
        " (use sqlite:///, postgresql+psycopg://, tinydb:///)",
        url=url,
    )


def open_existing_database(url: str) -> DatabaseManager:
    """Open a store that must already be there: a file store (SQLite, TinyDB)
    whose file is missing raises ``StoreNotFound`` instead of being created
    empty (a mistyped migration source must not look like an empty store)."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("sqlite", "tinydb"):
        path = _file_path(url, scheme)
        if not Path(path).is_file():
            raise StoreNotFound(f"no store at {path}", path=path)
    return open_database(url)


def _file_path(url: str, scheme: str) -> str:
    prefix = f"{scheme}:///"
    if not url.startswith(prefix) or len(url) <= len(prefix):
        raise InvalidStoreUrl(
            f"{scheme} URL must look like {prefix}path/to/file, got {url!r}", url=url
        )
    rest = url[len(prefix) :]
    # sqlite:////abs/path and sqlite:///rel/path, as SQLAlchemy reads them
    return rest if rest.startswith("/") else str(Path(rest).resolve())
