"""Targets of the independent-client proof: one emulated node, and the gateway
(``ollama-webmgr gateway``, as users run it) over three emulated nodes.

Each test module shares one target of each kind (module-scoped fixture), so
names a test creates are made unique per test.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_webmgr.sim.catalog import DEFAULT_SCALE
from ollama_webmgr.sim.fleet import running_fleet
from ollama_webmgr.sim.state import SimState

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
#: bytes/s: a small model pulls in ~0.15 s, with progress lines (the catalogue is
#: scaled, see sim/catalog.py: so is the rate)
BANDWIDTH = 2e9 * DEFAULT_SCALE
CHAT = "llama3.2"  # completion + tools
THINKER = "deepseek-r1:1.5b"  # completion + thinking
EMBEDDER = "all-minilm"  # embedding, 384 dimensions
PULLED = "smollm2:135m"  # on no node at start: pulled by the tests
NODE_MODELS = ("llama3.2:latest", "qwen2.5:0.5b", "all-minilm:latest", THINKER)
FLEET_MODELS = (
    ("llama3.2:latest", "all-minilm:latest", THINKER),
    ("llama3.2:latest", "qwen2.5:0.5b", THINKER),
    ("qwen2.5:0.5b", "all-minilm:latest"),
)
HEX64 = re.compile(r"[0-9a-f]{64}")
CALL_ID = re.compile(r"call_[a-z0-9]{8}")
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
RECIPE = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "servings": {"type": "integer", "minimum": 2},
        "steps": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "course": {"enum": ["starter", "main", "dessert"]},
    },
    "required": ["name", "servings", "steps", "course"],
}


@dataclass
class Target:
    """Where the clients point: ``url`` speaks Ollama's API."""

    kind: str  # "node" or "gateway"
    url: str
    states: list[SimState] = field(default_factory=list)

    def holders(self, model: str) -> list[SimState]:
        return [s for s in self.states if s.find(model) is not None]


@contextmanager
def node_target() -> Iterator[Target]:
    with running_fleet(
        [NODE_MODELS], library_port=None, bandwidth=BANDWIDTH, token_delay=0.002
    ) as fleet:
        yield Target("node", fleet.urls[0], [n.state for n in fleet.nodes])


@contextmanager
def gateway_target(data_dir: Path) -> Iterator[Target]:
    with running_fleet(
        FLEET_MODELS, library_port=None, bandwidth=BANDWIDTH, token_delay=0.002
    ) as fleet:
        primary, *others = fleet.urls
        env = {
            **os.environ,
            "OLLAMA_BASE_URL": primary,
            "OLLAMA_SERVERS": ",".join(others),
            "WEBMGR_DATA_DIR": str(data_dir),
            "DATABASE_URL": "",
            "REDIS_URL": "",
        }
        command = [sys.executable, "-m", "ollama_webmgr", "gateway", "--port", "0"]
        with subprocess.Popen(
            command, cwd=data_dir, env=env, stdout=subprocess.PIPE, text=True
        ) as process:
            try:
                assert process.stdout is not None
                url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
                assert url.startswith("http://127.0.0.1:"), url
                yield Target("gateway", url, [n.state for n in fleet.nodes])
            finally:
                process.terminate()
                process.wait(timeout=15)


def run_js(script: str, target: Target, work_dir: Path, *args: str) -> dict[str, Any]:
    """Run ``js/<script>.mjs`` once with Node; its steps' outcomes by name."""
    completed = subprocess.run(
        ["node", str(JS_DIR / f"{script}.mjs"), target.url, str(work_dir), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, Any] = json.loads(completed.stdout)
    return results


def step(results: dict[str, Any], name: str) -> Any:
    """The value a JS step returned; its error (with status) fails the test."""
    outcome = results[name]
    assert "error" not in outcome, f"{name}: {outcome['error']}"
    return outcome["value"]


def is_unit_vector(vector: list[float]) -> bool:
    return math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-4)


def blob_sizes(target: Target, model: str) -> dict[str, int]:
    """Size of every blob of ``model`` as the registry publishes it."""
    entry = target.states[0].registry.lookup(model)
    assert entry is not None
    return {layer.digest: layer.size for layer in [*entry.layers(), entry.config]}


def check_pull_stream(
    statuses: list[dict[str, Any]], sizes: dict[str, int], *, up_to_date: bool = False
) -> None:
    """A pull stream as one Ollama sends it (contract §5.1, §5.2).

    ``pulling manifest``, then per blob ``pulling <12 hex>`` lines with the
    blob's own size as ``total``, one blob after the other (config last),
    ``verifying sha256 digest`` once, ``writing manifest``, ``success``. A blob
    already there gives exactly one complete line.
    """
    names = [s.get("status") for s in statuses]
    assert "error" not in str(statuses[-1]), statuses[-1]
    assert names[0] == "pulling manifest", names
    assert names[-3:] == ["verifying sha256 digest", "writing manifest", "success"], (
        names
    )
    assert names.count("verifying sha256 digest") == 1, names
    layers = statuses[1:-3]
    for line in layers:
        digest = line.get("digest") or ""
        assert digest.startswith("sha256:"), line
        assert HEX64.fullmatch(digest[7:]), line
        assert line["status"] == f"pulling {digest[7:19]}", line
        assert line["total"] == sizes[digest], line  # the blob's size, not more
        assert 0 <= int(line.get("completed") or 0) <= line["total"], line
    seen = [line["digest"] for line in layers]
    runs = [d for i, d in enumerate(seen) if i == 0 or seen[i - 1] != d]
    assert len(runs) == len(set(runs)), "a blob came back after another one"
    assert set(seen) <= set(sizes), "blobs of this model only"
    if up_to_date:
        assert set(seen) == set(sizes)
        assert len(layers) == len(sizes), "one line per blob already there"
        assert all(line.get("completed") == line["total"] for line in layers)
