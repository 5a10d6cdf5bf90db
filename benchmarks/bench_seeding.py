"""Pull once, seed the rest: registry bytes and time, direct pulls vs the seed cache."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.model_jobs import submit_pull

MODEL = "llama3.2:latest"  # "2.0 GB", 2.0 MB in the scaled catalogue
NODES = (1, 2, 3, 5)
UPLINK_SECONDS = 1.0  # the registry sends the model in about this time: the "internet"
ACTOR = Actor("bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(fleet: EmulatedFleet, data_dir: str, port: int) -> Settings:
    primary, *others = fleet.urls
    return Settings(
        ollama_base_url=primary,
        ollama_servers=tuple(others),
        data_dir=data_dir,
        secret_key="bench",
        library_url=fleet.library_url,
        registry_url=fleet.library_url,
        seed_cache_url=f"http://127.0.0.1:{port}",
    )


def pull(services: Services, names: list[str], seeded: bool) -> float:
    started = time.perf_counter()
    if seeded:
        jobs = submit_pull(services, ACTOR, names, MODEL)
    else:  # what happened before: one direct pull per server
        jobs = [job for n in names for job in submit_pull(services, ACTOR, [n], MODEL)]
    for job in jobs:
        while not services.runner.get(job.id).finished:
            time.sleep(0.01)
        assert services.runner.get(job.id).state == "done", job.id
    return time.perf_counter() - started


def measure(count: int, seeded: bool) -> tuple[float, float]:
    """(registry bytes / model size, seconds) for one model to ``count`` nodes."""
    with (
        running_fleet([["smollm2:135m"]] * count) as fleet,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        entry = fleet.registry.lookup(MODEL)
        assert entry is not None
        fleet.registry.faults.update({"slow": entry.size / UPLINK_SECONDS})
        port = free_port()
        services = build_services(settings(fleet, str(Path(data_dir)), port))
        try:
            with serve_in_thread(create_app(services=services), port=port):
                names = [server.name for server in services.servers.all()]
                seconds = pull(services, names, seeded)
        finally:
            services.close()
        return fleet.registry.served.total / entry.size, seconds


def run() -> str:
    rows = []
    for count in NODES:
        direct_bytes, direct_time = measure(count, seeded=False)
        seeded_bytes, seeded_time = measure(count, seeded=True)
        rows.append(
            f"| {count} | {direct_bytes:.2f} × | {direct_time:.1f} s"
            f" | {seeded_bytes:.2f} × | {seeded_time:.1f} s |"
        )
    table = "\n".join(rows)
    return f"""## Pull once, seed the rest (one model to N nodes)

`{MODEL}` (its scaled catalogue size) to N emulated nodes on real sockets, pulling
real bytes over HTTP. The fake registry is throttled to send the model in about
{UPLINK_SECONDS:g} s (all its connections together: the shared internet line); the
manager's seed cache (the web app on its port) is not, and each node downloads at
the emulator's default 200 MB/s (the LAN). "Direct": one pull per server, each node downloading from the registry, as
before. "Seeded": one pull to all the servers (`submit_pull` with several servers):
the cache fetches the model once, the nodes take it from the cache. Bytes are those
the registry served, divided by the model's size; the time runs from the submission
until every job is done (the seeded time includes the cache's fill, the nodes'
pulls from it, the copy to the canonical name and the jobs' 10 ms polling).

| nodes | direct: registry bytes | direct: time | seeded: registry bytes | seeded: time |
|---|---|---|---|---|
{table}

With one node the pull is direct either way (nothing to seed)."""


if __name__ == "__main__":
    print(run())
