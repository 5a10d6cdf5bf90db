"""Several emulated Ollama nodes and the fake ollama.com, sharing one registry.

Used by the demo and by the tests that need a whole fleet on real sockets.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_webmgr.sim.app import create_app
from ollama_webmgr.sim.catalog import DEFAULT_MODELS, Registry
from ollama_webmgr.sim.library import create_library_app
from ollama_webmgr.sim.serve import RunningServer, start_in_thread
from ollama_webmgr.sim.state import SimState


@dataclass
class EmulatedNode:
    state: SimState
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.url


@dataclass
class EmulatedFleet:
    registry: Registry
    nodes: list[EmulatedNode] = field(default_factory=list)
    library: RunningServer | None = None

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def library_url(self) -> str:
        assert self.library is not None
        return self.library.url

    def stop(self) -> None:
        for node in self.nodes:
            node.server.stop()
        if self.library is not None:
            self.library.stop()


def start_fleet(
    models: Sequence[Sequence[str]] = (DEFAULT_MODELS,),
    *,
    host: str = "127.0.0.1",
    ports: Sequence[int] = (),
    library_port: int | None = 0,
    node_options: Sequence[dict[str, Any]] = (),
    state_files: Sequence[Path] = (),
    registry_options: dict[str, Any] | None = None,
    **state_options: Any,
) -> EmulatedFleet:
    """One node per entry of ``models`` (its installed models); port 0: any free.

    The nodes pull from the fleet's fake registry (``library_port``; None: each
    from the process's private one, see ``upstream``); ``registry_options`` go
    to its ``Registry`` (e.g. ``{"scale": 0.01}``).

    ``state_options`` apply to every node, ``node_options[i]`` to node i only
    (e.g. its scheduler limits: ``{"max_loaded_models": 1, "num_parallel": 2}``).
    With ``state_files`` (one per node), a node keeps its models in its file: a
    file written by an earlier run wins over ``models``.
    """
    fleet = EmulatedFleet(Registry(**(registry_options or {})))
    try:
        if library_port is not None:
            app = create_library_app(fleet.registry)
            fleet.library = start_in_thread(app, host, library_port)
            state_options = {"registry_url": fleet.library.url, **state_options}
        for index, names in enumerate(models):
            own = node_options[index] if index < len(node_options) else {}
            state = _node_state(
                names,
                fleet.registry,
                state_files[index] if index < len(state_files) else None,
                {**state_options, **own},
            )
            port = ports[index] if index < len(ports) else 0
            fleet.nodes.append(
                EmulatedNode(state, start_in_thread(create_app(state), host, port))
            )
    except BaseException:
        fleet.stop()
        raise
    return fleet


def _node_state(
    names: Sequence[str],
    registry: Registry,
    state_file: Path | None,
    options: dict[str, Any],
) -> SimState:
    if state_file is None:
        return SimState.with_models(list(names), registry, **options)
    state = SimState(registry=registry, state_file=state_file, **options)
    if not state.load():
        state = SimState.with_models(
            list(names), registry, state_file=state_file, **options
        )
    return state


@contextmanager
def running_fleet(
    models: Sequence[Sequence[str]] = (DEFAULT_MODELS,), **options: Any
) -> Iterator[EmulatedFleet]:
    """``start_fleet`` as a context manager that always stops everything."""
    fleet = start_fleet(models, **options)
    try:
        yield fleet
    finally:
        fleet.stop()
