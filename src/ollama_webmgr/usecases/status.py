"""One snapshot of every server: reachable, version, installed and loaded models.

Built for the dashboard, the servers page and ``/health``: all servers are asked
in parallel with short timeouts (``usecases/probe.py``), so one dead server costs
at most a few seconds and never blocks the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ollama_webmgr.cluster.clients import ClientPool
from ollama_webmgr.cluster.servers import Server
from ollama_webmgr.errors import OllamaError
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.ollama.payloads import ModelTag, RunningModel
from ollama_webmgr.usecases.probe import ask_all


@dataclass(frozen=True, slots=True)
class Inventory:
    version: str
    models: list[ModelTag]
    running: list[RunningModel]


@dataclass(frozen=True, slots=True)
class ServerStatus:
    server: Server
    reachable: bool
    latency_ms: float
    version: str | None = None
    models: list[ModelTag] = field(default_factory=list)
    running: list[RunningModel] = field(default_factory=list)
    error: OllamaError | None = None

    @property
    def disk_bytes(self) -> int:
        """What the installed models take (blobs shared by tags counted twice)."""
        return sum(model.size for model in self.models)

    @property
    def vram_bytes(self) -> int:
        return sum(model.size_vram for model in self.running)


def inventory(client: OllamaClient) -> Inventory:
    return Inventory(client.version(), client.tags(), client.ps())


def fleet_status(
    servers: Sequence[Server], clients: ClientPool | None
) -> list[ServerStatus]:
    """The status of each server, in order."""
    statuses = []
    for outcome in ask_all(servers, inventory, clients):
        found = outcome.value
        if found is None:
            statuses.append(
                ServerStatus(
                    outcome.server, False, outcome.latency_ms, error=outcome.error
                )
            )
        else:
            statuses.append(
                ServerStatus(
                    outcome.server,
                    True,
                    outcome.latency_ms,
                    found.version,
                    found.models,
                    found.running,
                )
            )
    return statuses
