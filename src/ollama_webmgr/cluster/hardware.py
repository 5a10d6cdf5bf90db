"""Hardware of the fleet: ask each node agent, keep the answer and time series.

A server may have an agent address (``servers.agent_address``). Every
``interval`` seconds the ``HardwareCollector`` asks every agent in parallel, each
call bounded by its timeout, and stores:

* ``servers.hardware_info``: the five documents plus ``agent``, ``collected_at``,
  ``last_attempt``, ``stale`` and ``last_error``. An agent that fails keeps its
  last documents, marked ``stale: true`` with the reason; nothing is raised and
  no page waits for an agent.
* samples ``cpu_percent``, ``ram_percent``, ``gpu_util`` (mean over GPUs),
  ``vram_used`` (bytes, all GPUs) and ``disk_free`` (bytes, the models volume).

Without an agent, ``vram_from_ps`` gives what Ollama itself tells.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ollama_webmgr.agent.address import check_address
from ollama_webmgr.agent.schema import SystemInfo
from ollama_webmgr.errors import WebmgrError
from ollama_webmgr.store.database import DatabaseManager, Doc, Sample, Where
from ollama_webmgr.store.records import record_hardware

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 60.0
DEFAULT_TIMEOUT_S = 3.0
METRICS = ("cpu_percent", "ram_percent", "gpu_util", "vram_used", "disk_free")


class InfoSource(Protocol):
    """What the collector needs from an agent client (``AgentClient`` fits)."""

    def get_system_info(self, details: bool = True) -> SystemInfo: ...

    def close(self) -> None: ...


ClientFactory = Callable[[str], InfoSource]


@dataclass(frozen=True)
class Collected:
    """The outcome for one server: ``error`` is ``None`` when the agent answered."""

    server: str
    agent: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def grpc_client_factory(
    *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> ClientFactory:
    """Real gRPC clients (the ``agent`` extra must be installed).

    Call it before any other gRPC object exists: under gevent it switches gRPC
    to cooperative mode first.
    """
    from ollama_webmgr.agent.client import AgentClient
    from ollama_webmgr.agent.green import cooperate_with_gevent

    cooperate_with_gevent()

    return lambda address: AgentClient(address, token=token, timeout=timeout)


def optional_grpc_factory(
    *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
) -> ClientFactory | None:
    """``grpc_client_factory``, or None without the ``agent`` extra (logged)."""
    try:
        return grpc_client_factory(token=token, timeout=timeout)
    except ImportError as exc:
        log.info("node agents not asked (the 'agent' extra is missing): %s", exc)
        return None


def collect_hardware(
    db: DatabaseManager,
    servers_with_agents: Mapping[str, str],
    client_factory: ClientFactory,
    now: float,
    *,
    parallel: int = 8,
) -> list[Collected]:
    """Ask every agent (server address -> agent address) once and store the answers.

    Never raises: failures end up in the stored info and in the result.
    """
    if not servers_with_agents:
        return []
    pairs = list(servers_with_agents.items())
    with ThreadPoolExecutor(max_workers=min(parallel, len(pairs))) as pool:
        answers = list(pool.map(lambda p: _ask(client_factory, p[1]), pairs))
    results = []
    for (server, agent), answer in zip(pairs, answers, strict=True):
        error = answer if isinstance(answer, str) else None
        try:
            if isinstance(answer, SystemInfo):
                _store_info(db, server, agent, answer, now)
            else:
                _store_failure(db, server, agent, answer, now)
        except WebmgrError as exc:  # the store failed: report, go on with others
            log.warning("storing the hardware of %s failed: %s", server, exc)
            error = error or f"store: {exc}"
        results.append(Collected(server, agent, error))
    return results


def _ask(client_factory: ClientFactory, agent: str) -> SystemInfo | str:
    """The agent's answer, or why there is none (as text, never an exception)."""
    try:
        client = client_factory(agent)
    except WebmgrError as exc:
        return exc.message
    try:
        return client.get_system_info(details=True)
    except WebmgrError as exc:
        return exc.message
    except Exception as exc:  # a background loop must outlive any client bug
        log.exception("asking agent %s failed unexpectedly", agent)
        return f"unexpected error: {exc}"
    finally:
        client.close()


def _store_info(
    db: DatabaseManager, server: str, agent: str, info: SystemInfo, now: float
) -> None:
    record_hardware(
        db,
        server,
        {
            **info.to_json(),
            "agent": agent,
            "collected_at": now,
            "last_attempt": now,
            "stale": False,
            "last_error": None,
        },
    )
    db.add_samples(samples_from(server, info, now))


def _store_failure(
    db: DatabaseManager, server: str, agent: str, error: str, now: float
) -> None:
    found = db.find("servers", [Where("address", "==", server)], limit=1)
    previous: Doc = dict(found[0].get("hardware_info") or {}) if found else {}
    record_hardware(
        db,
        server,
        {
            **previous,
            "agent": agent,
            "last_attempt": now,
            "stale": True,
            "last_error": error,
        },
    )


def samples_from(server: str, info: SystemInfo, now: float) -> list[Sample]:
    """The time-series points of one answer (GPU and disk ones when known)."""
    points = {
        "cpu_percent": info.cpu.usage_percent,
        "ram_percent": info.memory.percent,
    }
    rates = [
        g.utilization_percent
        for g in info.gpu.gpus
        if g.utilization_percent is not None
    ]
    if rates:
        points["gpu_util"] = sum(rates) / len(rates)
    if info.gpu.gpus:
        points["vram_used"] = float(sum(g.memory_used for g in info.gpu.gpus))
    models = next((v for v in info.disk.volumes if v.label == "models"), None)
    if models is not None and models.free is not None:
        points["disk_free"] = float(models.free)
    return [Sample(server, metric, now, value) for metric, value in points.items()]


def vram_from_ps(running_models: Iterable[Mapping[str, Any]]) -> int:
    """VRAM in use according to Ollama's ``/api/ps`` (sum of ``size_vram``).

    >>> vram_from_ps([{"name": "a", "size_vram": 5}, {"name": "b", "size_vram": 7}])
    12
    >>> vram_from_ps([{"name": "cpu-only"}, {"size_vram": "junk"}])
    0
    """
    total = 0
    for model in running_models:
        value = model.get("size_vram")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            total += value
    return total


def agents_from_store(db: DatabaseManager) -> dict[str, str]:
    """Server address -> agent address, for servers that have an agent."""
    docs = db.find("servers", [Where("agent_address", "!=", None)])
    return {
        str(d["address"]): str(d["agent_address"])
        for d in docs
        if d.get("address") and d.get("agent_address")
    }


def model_sources(db: DatabaseManager) -> dict[str, str]:
    """Server address -> ``http://<agent host>:<port>`` where its agent serves
    the node's models (``agent --serve-models``), as its last answer said."""
    found = {}
    for doc in db.find("servers", [Where("agent_address", "!=", None)]):
        info = doc.get("hardware_info")
        system = info.get("system") if isinstance(info, dict) else None
        port = system.get("models_port") if isinstance(system, dict) else None
        agent = str(doc.get("agent_address") or "")
        if not doc.get("address") or ":" not in agent:
            continue
        if isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536:
            host = agent.rsplit(":", 1)[0]  # [v6] keeps its brackets
            found[str(doc["address"])] = f"http://{host}:{port}"
    return found


def set_agent_address(db: DatabaseManager, server: str, agent: str | None) -> None:
    """Give a server an agent (``host:port``), or take it away with ``None``."""
    value = check_address(agent) if agent else None
    found = db.find("servers", [Where("address", "==", server)], limit=1)
    if found:
        db.update("servers", found[0]["id"], {"agent_address": value})
    else:
        db.insert("servers", {"address": server, "agent_address": value})


class HardwareCollector:
    """Runs ``collect_hardware`` every ``interval`` seconds in a background thread,
    while ``active()`` says this process is the one to do it."""

    def __init__(
        self,
        db: DatabaseManager,
        client_factory: ClientFactory,
        *,
        agents: Callable[[], Mapping[str, str]] | None = None,
        interval: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        self._db = db
        self._active = active
        self._factory = client_factory
        self._agents = agents or (lambda: agents_from_store(db))
        self.interval = interval
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[Collected]:
        try:
            targets = self._agents()
        except WebmgrError as exc:
            log.warning("listing the agents failed: %s", exc)
            return []
        return collect_hardware(self._db, targets, self._factory, self._clock())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="hardware-collector", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._active():  # else another process asks the agents
                self.run_once()
            self._stop.wait(self.interval)
