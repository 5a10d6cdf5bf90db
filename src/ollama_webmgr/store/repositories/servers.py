"""The ``servers`` table: what the store knows of each server, by address.

The address is the short ``host:port`` form (``ollama.urls.display_address``).
``hardware_info`` is the node agent's last report as stored (its shape is
``agent/schema.py``'s), passed through as the JSON mapping it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.store.database import DatabaseManager, Doc, Where

TABLE = "servers"


@dataclass(frozen=True, slots=True)
class ServerRecord:
    address: str
    name: str | None = None
    healthy: bool | None = None
    last_check: str | None = None
    agent_address: str | None = None
    hardware_info: Mapping[str, Any] | None = None

    @property
    def label(self) -> str:
        """The name when the health monitor recorded one, else the address."""
        return self.name or self.address

    @property
    def hardware(self) -> Mapping[str, Any]:
        """The agent's report, empty when there is none."""
        return self.hardware_info or {}


def server_record(doc: Doc) -> ServerRecord:
    info = doc.get("hardware_info")
    return ServerRecord(
        address=str(doc.get("address")),
        name=_text(doc.get("name")),
        healthy=doc.get("healthy") if isinstance(doc.get("healthy"), bool) else None,
        last_check=_text(doc.get("last_check")),
        agent_address=_text(doc.get("agent_address")),
        hardware_info=info if isinstance(info, dict) else None,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class ServerRecords:
    """Reads of the ``servers`` table."""

    def __init__(self, db: DatabaseManager) -> None:
        self._db = db

    def by_address(self, address: str) -> ServerRecord | None:
        found = self._db.find(TABLE, [Where("address", "==", address)], limit=1)
        return server_record(found[0]) if found else None

    def by_addresses(self, addresses: Sequence[str]) -> dict[str, ServerRecord]:
        """The records of these addresses (absent ones are left out)."""
        if not addresses:
            return {}
        docs = self._db.find(TABLE, [Where("address", "in", list(addresses))])
        records = (server_record(doc) for doc in docs)
        return {record.address: record for record in records}

    def with_agent(self) -> list[ServerRecord]:
        """The servers that have a node agent, oldest record first."""
        docs = self._db.find(TABLE, [Where("agent_address", "!=", None)])
        return [server_record(doc) for doc in docs]

    def all(self) -> list[ServerRecord]:
        """Every record, by address."""
        return [server_record(d) for d in self._db.find(TABLE, order_by="address")]
