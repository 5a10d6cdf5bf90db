"""Fleet fixtures shared by test folders (``tests`` is on pytest's pythonpath)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.fleet import EmulatedFleet

FAST = 10e9  # bytes/s: pulls of the catalogue's models finish at once
SMALL_MODELS = ("smollm2:135m", "all-minilm:latest")


def fleet_settings(fleet: EmulatedFleet, data_dir: Path, **overrides: Any) -> Settings:
    """Settings pointing at every node of ``fleet`` and at its fake ollama.com."""
    primary, *others = fleet.urls
    values: dict[str, Any] = {
        "ollama_base_url": primary,
        "ollama_servers": tuple(others),
        "data_dir": str(data_dir),
        "secret_key": "test-secret-key",
        "library_url": fleet.library_url,
        "registry_url": fleet.library_url,
    }
    values.update(overrides)
    return Settings(**values)


@contextmanager
def fleet_services(
    fleet: EmulatedFleet, data_dir: Path, **overrides: Any
) -> Iterator[Services]:
    """Production services over an emulated fleet; closed afterwards."""
    services = build_services(fleet_settings(fleet, data_dir, **overrides))
    try:
        yield services
    finally:
        services.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (the port was just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
