"""Who acts, and the audit trail every change writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_webmgr.store.database import DatabaseManager
from ollama_webmgr.store.records import record_audit


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a change, as the audit trail names them.

    The faces build it from the request (``alice@10.0.0.2``, or the address
    alone without a password); background work names itself.
    """

    name: str

    def __str__(self) -> str:
        return self.name


def audit(
    db: DatabaseManager,
    actor: Actor,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Record that ``actor`` did ``action`` to ``target``."""
    record_audit(db, actor.name, action, target, details)
