"""A node agent serving an emulated node's data dir, for the peer seeding tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx

from ollama_webmgr.agent.live import live_readers
from ollama_webmgr.agent.model_port import ModelPort, serve_models
from ollama_webmgr.agent.server import create_server


@dataclass
class NodeAgent:
    """The gRPC agent of a node and its model port."""

    server: grpc.Server
    address: str  # host:port of the gRPC agent
    models: ModelPort

    @property
    def models_url(self) -> str:
        return f"http://127.0.0.1:{self.models.port}"


@contextmanager
def node_agent(models_dir: Path) -> Iterator[NodeAgent]:
    """``ollama-webmgr agent --serve-models 0`` over ``models_dir``, in-process."""
    models = serve_models("127.0.0.1", 0, str(models_dir))
    server, bound = create_server(
        "127.0.0.1",
        0,
        models_dir=str(models_dir),
        readers=live_readers(str(models_dir), models_port=models.port),
    )
    try:
        yield NodeAgent(server, f"127.0.0.1:{bound}", models)
    finally:
        server.stop(grace=0).wait()
        models.stop()


def pull_on_node(url: str, model: str) -> None:
    """The node pulls ``model`` itself (from the fake registry)."""
    answer = httpx.post(
        f"{url}/api/pull", json={"model": model, "stream": False}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "success"
