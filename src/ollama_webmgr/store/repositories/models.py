"""The ``models`` table: the model map (which servers hold a model) and its use."""

from __future__ import annotations

from dataclasses import dataclass

from ollama_webmgr.store.database import DatabaseManager, Doc, Where

TABLE = "models"


@dataclass(frozen=True, slots=True)
class ModelRecord:
    name: str
    #: bytes on disk, when known (a positive integer)
    size: int | None = None
    usage_count: int = 0
    #: names of the servers that hold it
    servers: tuple[str, ...] = ()


def model_record(doc: Doc) -> ModelRecord:
    size = doc.get("size")
    usage = doc.get("usage_count")
    servers = doc.get("servers")
    return ModelRecord(
        name=str(doc.get("name")),
        size=_positive_int(size),
        usage_count=_positive_int(usage) or 0,
        servers=tuple(str(s) for s in servers) if isinstance(servers, list) else (),
    )


def _positive_int(value: object) -> int | None:
    """The value when it is a positive integer (as JSON may hold anything)."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class ModelRecords:
    """Reads of the ``models`` table."""

    def __init__(self, db: DatabaseManager) -> None:
        self._db = db

    def by_name(self, name: str) -> ModelRecord | None:
        """The record of exactly this name (as the model map wrote it)."""
        found = self._db.find(TABLE, [Where("name", "==", name)], limit=1)
        return model_record(found[0]) if found else None

    def names(self) -> list[str]:
        """Every named model, sorted."""
        return sorted(str(d["name"]) for d in self._db.find(TABLE) if d.get("name"))
