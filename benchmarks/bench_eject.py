"""Forced eject: from the job's submission to the model gone from ``/api/ps``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from ollama_webmgr.jobs.bus import MemoryBus
from ollama_webmgr.jobs.runner import ThreadRunner
from ollama_webmgr.jobs.tasks import default_registry
from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.sim.fleet import EmulatedNode, running_fleet
from ollama_webmgr.usecases.running import soft_eject

MODEL = "smollm2:135m"
RUNS = 20


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    node: EmulatedNode, eject: Callable[[], None], prepare: Callable[[], None]
) -> list[float]:
    times = []
    with OllamaClient(node.url) as client:
        for _ in range(RUNS):
            client.load(MODEL, keep_alive="5m")
            prepare()
            started = time.perf_counter()
            eject()
            times.append((time.perf_counter() - started) * 1000)
            assert client.ps() == [], "the model is still loaded"
    return times


def run() -> str:
    rows = []
    with running_fleet([[MODEL]], library_port=None) as fleet:
        node = fleet.nodes[0]
        runner = ThreadRunner(default_registry(), MemoryBus())
        client = OllamaClient(node.url)

        def forced() -> None:
            job = runner.submit("eject_force", {"server_url": node.url, "model": MODEL})
            while not runner.get(job.id).finished:
                time.sleep(0.001)
            assert runner.get(job.id).state == "done"

        def soft() -> None:
            assert soft_eject(client, MODEL)

        def nothing() -> None:
            return None

        def drop_first() -> None:
            node.state.faults.update({"fail_next": 1})

        cases = [
            ("soft eject (unload + `/api/ps`), in the request", soft, nothing),
            ("forced eject job (ThreadRunner)", forced, nothing),
            ("forced eject job, first unload answered 500", forced, drop_first),
        ]
        for label, eject, prepare in cases:
            times = measure(node, eject, prepare)
            rows.append(
                f"| {label} | {RUNS} | {statistics.median(times):.1f} ms"
                f" | {percentile(times, 0.95):.1f} ms | {max(times):.1f} ms |"
            )
        client.close()
        runner.shutdown()
    table = "\n".join(rows)
    return f"""## Eject: time until the model leaves `/api/ps`

One emulated node on a real socket with `{MODEL}` loaded (`keep_alive` 5 min) before
each run. The time runs from the call (or the job's submission) until the job is
`done`, which the task only reports once `/api/ps` no longer lists the model
(checked again after each run). {RUNS} runs per line. The third line makes the node
answer the first unload with a 500, so the task waits one poll interval (100 ms) and
repeats.

| path | runs | p50 | p95 | max |
|---|---|---|---|---|
{table}

Target ≤ 1 s, brief's limit 5 s: the task gives up after 4.5 s with `EjectFailed`."""


if __name__ == "__main__":
    print(run())
