"""Where the gateway's request records are stored, and what the tail feels of it.

Processes on loopback over one emulated node: the bare relay; the gateway as
shipped with one worker (``ollama-webmgr gateway --workers 1``: the worker pipes
its records to the supervisor, which stores them); the same gateway in one
process that stores its records itself, a batch a second (the design before,
``benchmarks/gateway_variant.py inline``); and with no records at all
(``gateway_variant.py no-records``: the floor). No Redis, one worker each, so
that only the records differ. Small relayed requests (``POST /api/show``):
interleaved one by one (3 runs of 3,000 per path), then under 32 client threads
(3 s per path, 3 rounds taking turns), every latency kept.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench_gateway import MODEL, SHOW, _post
from relay_support import (
    Rounds,
    added,
    free_port,
    gateway_env,
    interleaved,
    interleaved_rounds,
    load_latencies,
    quantile,
    raise_open_files,
    scaled,
    start,
    stop,
    wait_ready,
)

HERE = Path(__file__).resolve().parent
PATHS = ("bare relay", "gateway, records to the supervisor", "records in-process")
FLOOR = "no records"


def run() -> str:
    raise_open_files()
    python = sys.executable
    node = free_port()
    upstream = f"http://127.0.0.1:{node}"
    ports = {"direct": node} | {name: free_port() for name in (*PATHS, FLOOR)}
    commands = {
        "direct": [python, "-m", "ollama_webmgr", "sim", "--models", MODEL],
        "bare relay": [python, str(HERE / "bare_relay.py"), upstream],
        PATHS[1]: [python, "-m", "ollama_webmgr", "gateway", "--workers", "1"],
        PATHS[2]: [python, str(HERE / "gateway_variant.py"), "inline"],
        FLOOR: [python, str(HERE / "gateway_variant.py"), "no-records"],
    }
    port_flag = {"direct": ["--port"], PATHS[1]: ["--port"]}
    processes = [
        start(
            [*command, *port_flag.get(name, []), str(ports[name])],
            None
            if name in ("direct", "bare relay")
            else gateway_env(upstream, deployed=False),
        )
        for name, command in commands.items()
    ]
    try:
        for port in ports.values():
            wait_ready(port, "/api/show", SHOW)
        calls = {name: _post("/api/show", SHOW) for name in ports}
        interleaved(ports, calls, scaled(300))  # warm-up
        sequential = interleaved_rounds(ports, calls, scaled(3000))
        loaded = _under_load(ports, calls)
    finally:
        stop(processes)
    return _report(sequential, loaded)


def _under_load(
    ports: dict[str, int], calls: dict[str, object]
) -> dict[str, list[list[float]]]:
    seconds = scaled(300) / 100
    runs: dict[str, list[list[float]]] = {name: [] for name in ports}
    for _ in range(3):
        for name, port in ports.items():
            runs[name].append(load_latencies(port, calls[name], seconds=seconds))  # type: ignore[arg-type]
    return runs


def _report(sequential: Rounds, loaded: dict[str, list[list[float]]]) -> str:
    names = [*PATHS, FLOOR]

    def cell(q: float) -> str:
        return " | ".join(f"+{added(sequential, n, 'direct', q):.2f}" for n in names)

    def load_cell(q: float) -> str:
        return " | ".join(
            f"{statistics.median(quantile(r, q) for r in loaded[n]):.2f}"
            for n in ["direct", *names]
        )

    rate = {
        name: statistics.median(len(r) for r in runs) / (scaled(300) / 100)
        for name, runs in loaded.items()
    }
    lines = [
        "## Request records off the serving path",
        "",
        "Processes on loopback over one emulated node: the bare relay; the"
        " gateway as shipped with one worker (`ollama-webmgr gateway --workers"
        " 1`: the worker pipes its records to the supervisor process, which"
        " stores them); the same gateway in one process storing its records"
        " itself, a batch a second (the design before,"
        " `benchmarks/gateway_variant.py inline`); and with no records at all"
        " (`gateway_variant.py no-records`, the floor). No Redis, one worker"
        " each: only the records differ. Small relayed requests (`POST"
        " /api/show`), first one by one, the paths interleaved (3 runs of 3,000"
        " per path; added = path minus direct, median over the runs), then under"
        " 32 client threads (3 rounds of 3 s per path taking turns; every latency"
        " kept, median over the rounds).",
        "",
        "Target: records to the supervisor add no more to the p99 than no"
        " records at all; in the serving process they are what most slow"
        " requests wait behind (its event loop builds the samples, the writer"
        " thread competes for the GIL).",
        "",
        f"| measure (ms) | {' | '.join(names)} |",
        "|---|" + "---|" * len(names),
    ]
    for q in (50, 99, 99.9):
        lines.append(f"| added, one by one, p{q:g} | {cell(q)} |")
    lines += [
        "",
        f"| under 32 clients (ms) | direct | {' | '.join(names)} |",
        "|---|---|" + "---|" * len(names),
    ]
    for q in (50, 99, 99.9):
        lines.append(f"| latency p{q:g} | {load_cell(q)} |")
    lines.append(
        "| requests/s | "
        + " | ".join(f"{rate[n]:.0f}" for n in ["direct", *names])
        + " |"
    )
    supervisor = added(sequential, PATHS[1], "direct", 99)
    floor = added(sequential, FLOOR, "direct", 99)
    inline = added(sequential, PATHS[2], "direct", 99)
    lines += [
        "",
        f"p99 added, one by one: records to the supervisor {supervisor:.2f} ms,"
        f" no records {floor:.2f} ms, records in-process {inline:.2f} ms.",
    ]
    return "\n".join(lines)
