"""Issue 17's bandwidth budget: « With a cap C, the aggregate rate over any 5 s
window stays ≤ 1.1 × C », pulls queue fairly under it, and a per-node cap.

Real sockets throughout: three emulated nodes, the fake registry timing every
piece it sends (``ServedBytes.history``), the web app serving the seed cache on
its own port, the caps set through the JSON API as a person would. The rate
is measured where the internet line is: at the registry, as it sends.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flask.testing import FlaskClient
from models_api_support import wait_finished

from fleet_support import FAST, fleet_services
from ollama_webmgr.runtime.services import Services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.registry_faults import Sent
from ollama_webmgr.sim.serve import RunningServer
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.model_jobs import submit_pull
from ollama_webmgr.web.models_view import origin_text

CAP = 1_000_000  # bytes/s: C
WINDOW = 5.0
#: the catalogue scaled ×3 (llama3.2: 6 MB, gemma3:1b: 2.4 MB): ~8 s under C
SCALE = 0.003
MODELS = ("llama3.2:latest", "gemma3:1b")
NODES = [("smollm2:135m",)] * 3


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet(
        NODES, bandwidth=FAST, registry_options={"scale": SCALE}
    ) as running:
        yield running


@pytest.fixture
def services(
    fleet: EmulatedFleet, tmp_path: Path, cache_url: str
) -> Iterator[Services]:
    with fleet_services(
        fleet, tmp_path, models_cache_ttl=60.0, seed_cache_url=cache_url
    ) as built:
        yield built


@pytest.fixture
def client(services: Services, web: RunningServer) -> FlaskClient:
    return create_app(services=services).test_client()


def put_config(client: FlaskClient, body: dict[str, object]) -> None:
    answer = client.put("/api/downloads/config", json=body)
    assert answer.status_code == 200, answer.json


def pull_all(client: FlaskClient, model: str) -> list[str]:
    answer = client.post("/api/models/pull", json={"name": model, "servers": "all"})
    assert answer.status_code == 202, answer.json
    return list(answer.json["job_ids"])


def max_window(sent: list[Sent], window: float) -> float:
    """The most bytes sent within any ``window`` seconds (a window starting at
    each piece: the maximum over all windows is reached at one of them)."""
    best, end, inside = 0, 0, 0
    for start in range(len(sent)):
        while end < len(sent) and sent[end].at < sent[start].at + window:
            inside += sent[end].size
            end += 1
        best = max(best, inside)
        inside -= sent[start].size
    return best


def watch_shown_rate(
    client: FlaskClient, ids: list[str], services: Services
) -> list[tuple[float, float]]:
    """(seconds since the pulls began, the line's use the API shows), every
    0.25 s until the first job ends."""
    started = time.monotonic()
    shown = []
    while not any(services.runner.get(job).finished for job in ids):
        use = client.get("/api/downloads/config").json["use"]
        shown.append((time.monotonic() - started, float(use["rate"])))
        time.sleep(0.25)
    return shown


def digests_of(fleet: EmulatedFleet, model: str) -> set[str]:
    entry = fleet.registry.lookup(model)
    assert entry is not None
    return {layer.digest for layer in entry.layers()} | {entry.config.digest}


def registry_digest(fleet: EmulatedFleet, model: str) -> str:
    entry = fleet.registry.lookup(model)
    assert entry is not None
    return hashlib.sha256(entry.manifest_bytes()).hexdigest()


def test_the_fleet_cap_holds_over_every_5_s_window_and_shares_fairly(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    put_config(client, {"fleet_rate": CAP})
    fleet.registry.served.reset()
    ids = [job for model in MODELS for job in pull_all(client, model)]
    shown = watch_shown_rate(client, ids, services)
    jobs = [wait_finished(services, job, 40) for job in ids]
    assert [job.state for job in jobs] == ["done"] * 6, [job.error for job in jobs]

    sent = fleet.registry.served.sent()
    span = sent[-1].at - sent[0].at
    sizes = {model: fleet.registry.lookup(model).size for model in MODELS}  # type: ignore[union-attr]
    assert fleet.registry.served.total <= 1.05 * sum(sizes.values())  # once each
    assert span > WINDOW  # long enough for the windows to mean something
    assert max_window(sent, WINDOW) <= 1.1 * CAP * WINDOW
    # the line was used, not starved: the whole took about size / C
    assert span <= 1.5 * sum(sizes.values()) / CAP

    # fairness: while both models came down, each had about half the line
    big, small = (digests_of(fleet, model) for model in MODELS)
    small_pieces = [piece for piece in sent if piece.digest in small]
    both = (small_pieces[0].at, small_pieces[-1].at)
    during = [piece for piece in sent if both[0] <= piece.at <= both[1]]
    of_big = sum(piece.size for piece in during if piece.digest in big)
    of_small = sum(piece.size for piece in during if piece.digest in small)
    assert 0.67 <= of_big / of_small <= 1.5, (of_big, of_small)

    # the rate the pages show (« X sur C ») stays at the cap too, once past the
    # first window, and shows the line in use
    settled = [rate for at, rate in shown if at >= WINDOW]
    assert settled
    assert max(settled) <= 1.1 * CAP, settled
    assert max(settled) >= 0.5 * CAP, settled

    # every node got each model with the registry's digest
    for node in fleet.nodes:
        found = {
            m["name"]: m["digest"]
            for m in httpx.get(f"{node.url}/api/tags", timeout=5).json()["models"]
        }
        for model in MODELS:
            assert found.get(model) == registry_digest(fleet, model)


def test_with_a_cap_one_server_pulls_through_the_cache(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    put_config(client, {"fleet_rate": 4 * CAP})
    fleet.registry.served.reset()
    name = services.servers.all()[0].name
    answer = client.post(
        "/api/models/pull", json={"name": "gemma3:1b", "servers": [name]}
    )
    assert answer.status_code == 202, answer.json
    (job_id,) = answer.json["job_ids"]
    job = wait_finished(services, job_id, 20)
    assert job.state == "done", job.error
    assert job.result["source"] == "registry"  # through the cache: the budget's
    assert job.result["fetched"] == fleet.registry.served.total
    assert "seed_id" in job.params
    assert job.params["fleet_rate"] == 4 * CAP


def test_the_per_node_cap_paces_what_each_node_takes_from_the_cache(
    client: FlaskClient, services: Services, fleet: EmulatedFleet
) -> None:
    node_cap = 1_500_000
    put_config(client, {"node_rate": node_cap})
    model = "gemma3:1b"  # 2.4 MB: 1.6 s per node under the cap
    size = fleet.registry.lookup(model).size  # type: ignore[union-attr]
    started = time.monotonic()
    ids = pull_all(client, model)
    jobs = [wait_finished(services, job, 30) for job in ids]
    took = time.monotonic() - started
    assert [job.state for job in jobs] == ["done"] * 3, [job.error for job in jobs]
    # the registry is not capped (its fill is at once): the nodes' pulls from the
    # cache take at least size / cap each, and run side by side (a cap per node)
    assert took >= 0.9 * size / node_cap
    assert took <= 2 * size / node_cap


def test_a_node_that_cannot_use_the_cache_says_the_cap_was_not_applied(
    services: Services, fleet: EmulatedFleet
) -> None:
    """No web app at ``SEED_CACHE_URL`` (the ``web`` fixture is not used here):
    the pull goes direct, and says the cap could not be applied."""
    download_settings.change(services, Actor("test"), {"fleet_rate": CAP})
    name = services.servers.all()[0].name
    (job,) = submit_pull(services, Actor("test"), [name], "all-minilm:latest")
    done = wait_finished(services, job.id, 20)
    assert done.state == "done", done.error
    assert done.result["cap_not_applied"] is True
    assert done.result["fallback"] == "seed cache unreachable"
    assert origin_text(done.result) == (
        "registre (cache injoignable : plafond de débit non appliqué)"
    )
