"""Issue 17's proof at test speed: a stall injected at the registry mid-blob.

« A 60 s stall injected at the registry: the job resumes by itself within 30 s,
completes, and re-downloads at most one part of the blob. »

Real sockets end to end: the web app's JSON API, the pull job on the thread
runner, the emulated node pulling from the fake registry, which stops sending on
the one connection that crosses ``stall_after`` (a stuck TCP connection; new
connections are served). Time is scaled 1:30 (1 s here is 30 s real):

- the stall lasts ``STALL`` = 2 s (60 s real), the job must resume within
  ``BOUND`` = 1 s (30 s real);
- the node's own path: the node's part timeout (``stall_timeout``, Ollama's
  30 s, here ``PART_TIMEOUT`` = 0.6 s, 18 s real) reconnects the part; the
  watchdog (``PULL_STALL_TIMEOUT`` 30 s here, 900 s real) stays out of it;
- the watchdog's path: the node's part timeout is 30 s (900 s real, as when
  Ollama's own detection does not fire, ollama#8484) and the watchdog window is
  ``WINDOW`` = 0.6 s (18 s real): with the default 60 s window the watchdog
  alone would resume after 60 s, not within 30 s.

"Resumed" is measured at the registry: from the moment the connection stopped
sending to the moment another connection served its next byte. The node reads as
fast as the registry sends (no bandwidth cap), so no byte waits in a socket
buffer when the stall begins. Extra bytes are counted once the stuck connection
has closed (after its stall, when it finds its client gone): at most one part of
the blob, the part size being ``sim.downloading``'s split.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from models_api_support import model_names, post, wait_finished

from fleet_support import fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.sim.blobstore import split
from ollama_webmgr.sim.catalog import Layer
from ollama_webmgr.sim.downloading import MIN_PART_SIZE, NUM_PARTS
from ollama_webmgr.sim.fleet import EmulatedFleet
from waiting import wait_until

MODEL = "llama3.2:latest"  # weights in 4 parts on the wire (the catalogue is scaled)
SCALE = 1 / 30  # seconds here per real second
STALL = 60 * SCALE
BOUND = 30 * SCALE
PART_TIMEOUT = 18 * SCALE
WINDOW = 18 * SCALE
NEVER = 900 * SCALE  # a timeout that does not fire within the stall

PATHS = {
    # (node's part timeout, watchdog window, restarts the job shows)
    "node-reconnects": (PART_TIMEOUT, NEVER, 0),
    "watchdog-restarts": (NEVER, WINDOW, 1),
}


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def services(fleet: EmulatedFleet, tmp_path: Path, path: str) -> Iterator[Services]:
    part_timeout, window, _ = PATHS[path]
    fleet.nodes[1].state.stall_timeout = part_timeout
    with fleet_services(
        fleet,
        tmp_path,
        models_cache_ttl=60.0,
        pull_stall_timeout=window,
        pull_max_restarts=2,
    ) as built:
        yield built


def weights(fleet: EmulatedFleet) -> Layer:
    entry = fleet.registry.lookup(MODEL)
    assert entry is not None
    return entry.weights


def part_size(blob: Layer) -> int:
    """The largest part the node splits this blob into."""
    return max(part.size for part in split(blob.size, NUM_PARTS, MIN_PART_SIZE))


def test_a_stall_at_the_registry_resumes_within_the_bound_and_completes(
    client: FlaskClient,
    services: Services,
    fleet: EmulatedFleet,
    names: list[str],
    path: str,
) -> None:
    blob = weights(fleet)
    assert len(split(blob.size, NUM_PARTS, MIN_PART_SIZE)) > 1
    faults = fleet.registry.faults
    # mid-blob: the weights come first, so byte N of the pull is byte N of them
    faults.update({"stall_after": blob.size // 2, "stall_for": STALL})
    answer = post(client, "/api/models/pull", {"name": MODEL, "server": names[1]})
    assert answer.status_code == 202
    job_id = str(answer.json["job_id"])
    job = wait_finished(services, job_id, limit=10 * BOUND)
    assert job.state == "done"
    (stuck,) = faults.stuck
    assert stuck.digest == blob.digest
    assert 0 < stuck.offset < blob.size
    assert stuck.resumed is not None
    assert stuck.resumed - stuck.started <= BOUND  # resumed by itself in time
    assert stuck.unstuck is None  # completed while the stall was still on
    assert job.progress.restarts == PATHS[path][2]
    assert MODEL in model_names(client, names[1])
    faults.release()  # the stuck connection sends again: to a client long gone
    wait_until(lambda: stuck.closed is not None, what="the stuck connection to close")
    served = fleet.registry.served.of(blob.digest)
    assert blob.size <= served <= blob.size + part_size(blob)
