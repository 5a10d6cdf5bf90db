"""The bandwidth budget: the fleet cap over 5 s windows, and fair shares, for N
concurrent pulls through the seed cache (measured at the fake registry)."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from ollama_webmgr.runtime.services import Services, build_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.settings import Settings
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.sim.registry_faults import Sent
from ollama_webmgr.sim.serve import serve_in_thread
from ollama_webmgr.usecases import download_settings
from ollama_webmgr.usecases.actor import Actor
from ollama_webmgr.usecases.model_jobs import submit_pull

CAP = 1_000_000  # bytes/s
WINDOW = 5.0
SCALE = 0.003  # the catalogue ×3: models of 2.4 to 4 MB
MODELS = (
    "gemma3:1b",
    "qwen2.5:1.5b",
    "deepseek-r1:1.5b",
    "llama3.2:1b",
)
COUNTS = (2, 3, 4)  # the thread runner runs 4 jobs at once
ACTOR = Actor("bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(fleet: EmulatedFleet, data_dir: str, port: int) -> Settings:
    return Settings(
        ollama_base_url=fleet.urls[0],
        data_dir=data_dir,
        secret_key="bench",
        library_url=fleet.library_url,
        registry_url=fleet.library_url,
        seed_cache_url=f"http://127.0.0.1:{port}",
    )


def max_window(sent: list[Sent]) -> int:
    best, end, inside = 0, 0, 0
    for start in range(len(sent)):
        while end < len(sent) and sent[end].at < sent[start].at + WINDOW:
            inside += sent[end].size
            end += 1
        best = max(best, inside)
        inside -= sent[start].size
    return best


def shares(
    fleet: EmulatedFleet, models: tuple[str, ...], sent: list[Sent]
) -> list[int]:
    """Bytes of each model while all of them were coming down."""
    owner = {}
    for model in models:
        entry = fleet.registry.lookup(model)
        assert entry is not None
        for layer in [*entry.layers(), entry.config]:
            owner[layer.digest] = model
    spans = {}
    for piece in sent:
        first, _ = spans.get(owner[piece.digest], (piece.at, piece.at))
        spans[owner[piece.digest]] = (first, piece.at)
    start = max(first for first, _ in spans.values())
    end = min(last for _, last in spans.values())
    got = dict.fromkeys(models, 0)
    for piece in sent:
        if start <= piece.at <= end:
            got[owner[piece.digest]] += piece.size
    return list(got.values())


def pull_all(services: Services, models: tuple[str, ...]) -> float:
    started = time.perf_counter()
    name = services.servers.all()[0].name
    jobs = [job for m in models for job in submit_pull(services, ACTOR, [name], m)]
    for job in jobs:
        while not services.runner.get(job.id).finished:
            time.sleep(0.02)
        assert services.runner.get(job.id).state == "done", job.id
    return time.perf_counter() - started


def measure(count: int) -> tuple[float, float, float, float, float]:
    """(max 5 s window / C, mean rate / C, min/max share, Jain's index, seconds)."""
    models = MODELS[:count]
    with (
        running_fleet([["smollm2:135m"]], registry_options={"scale": SCALE}) as fleet,
        tempfile.TemporaryDirectory() as data_dir,
    ):
        port = free_port()
        services = build_services(settings(fleet, str(Path(data_dir)), port))
        try:
            download_settings.change(services, ACTOR, {"fleet_rate": CAP})
            with serve_in_thread(create_app(services=services), port=port):
                seconds = pull_all(services, models)
        finally:
            services.close()
        sent = fleet.registry.served.sent()
    span = sent[-1].at - sent[0].at
    total = sum(piece.size for piece in sent)
    got = shares(fleet, models, sent)
    jain = sum(got) ** 2 / (len(got) * sum(g * g for g in got))
    return (
        max_window(sent) / (WINDOW * CAP),
        total / span / CAP,
        min(got) / max(got),
        jain,
        seconds,
    )


def run() -> str:
    rows = []
    for count in COUNTS:
        peak, mean, ratio, jain, seconds = measure(count)
        rows.append(
            f"| {count} | {peak:.3f} | {mean:.3f} | {ratio:.2f} | {jain:.3f}"
            f" | {seconds:.1f} s |"
        )
    table = "\n".join(rows)
    return f"""## Bandwidth budget: the fleet cap and fair shares

N different models pulled at once to one emulated node with a fleet cap C =
{CAP / 1e6:g} MB/s (« Téléchargements »): under a cap every pull goes through the
seed cache, whose downloads from the fake registry share one budget
(`ollama/bandwidth.py`). The catalogue is scaled ×3 (the first N of {", ".join(MODELS)}: 2.4
to 4 MB). Rates are measured at the registry, from the time of every piece it sent
(its blob connections keep a small kernel send buffer, so a piece counts when it
leaves, not when it is queued). "Peak": the most bytes sent within any 5 s
window, over 5 × C (issue 17's bound: ≤ 1.1). "Mean": all bytes over the time
from the first to the last, over C (how much of the line was used). "Shares":
while all N models were coming down, the smallest model's bytes over the
largest's, and Jain's fairness index (1: equal shares). "Time": submission to
every job done (fill, the node's pull from the cache, copy).

| pulls | peak 5 s / C | mean / C | shares min/max | Jain | time |
|---|---|---|---|---|---|
{table}"""


if __name__ == "__main__":
    print(run())
