"""The gateway against direct calls and three reference relays, side by side in one run.

Every server is a process on loopback, as in production: an emulated node
(``ollama-webmgr sim``), the gateway as deployed (``ollama-webmgr gateway`` with
the shipped environment's 2 workers sharing Redis, a SQLite store, every request
recorded by the supervisor), the bare reference relay
(``benchmarks/bare_relay.py``: raw WSGI + pooled urllib3 under gevent), an asyncio
relay (``benchmarks/aiohttp_relay.py``: aiohttp server + pooled aiohttp client)
and LiteLLM's proxy. The last two run from the bench venv (``make bench``
installs the ``bench`` extra into ``build/bench-venv``). One client process
measures the paths interleaved; the 1,000 streams use a client process of their
own (``benchmarks/stream_clients.py``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from relay_support import (
    BENCH_PYTHON,
    DEPLOYED_WORKERS,
    Call,
    PeakSampler,
    Rounds,
    added,
    at,
    bench_env,
    children,
    drop_redis_keys,
    each_peak_mb,
    free_port,
    interleaved,
    interleaved_rounds,
    mark,
    peak_rss_mb,
    quantile,
    raise_open_files,
    scaled,
    settle,
    start,
    start_node,
    start_relays,
    stop,
    throughput,
    wait_ready,
)

HERE = Path(__file__).resolve().parent
MODEL = "smollm2:135m"
SHOW = json.dumps({"model": MODEL}).encode()
STREAM = json.dumps({"model": MODEL, "prompt": "bonjour", "stream": True}).encode()
MESSAGES = [{"role": "user", "content": "bonjour"}]
JSON_HEADERS = {"Content-Type": "application/json"}
# One token each: the emulator waits 3 ms per token, the rest is relay work.
OPENAI_CHAT = json.dumps({"model": MODEL, "messages": MESSAGES, "max_tokens": 1})
LITELLM_CHAT = json.dumps(
    {"model": f"ollama_chat/{MODEL}", "messages": MESSAGES, "max_tokens": 1}
)
# What LiteLLM's ``ollama_chat`` provider sends the node for the request above.
NATIVE_CHAT = json.dumps(
    {
        "model": MODEL,
        "messages": MESSAGES,
        "stream": False,
        "options": {"num_predict": 1},
    }
)
STREAMS, STREAM_LINES, STREAM_INTERVAL, STREAM_MODEL = (
    scaled(1000),
    20,
    0.02,
    "bench:latest",
)


def _post(path: str, body: bytes | str, first_line: bool = False) -> Call:
    def call(conn: http.client.HTTPConnection) -> float:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=JSON_HEADERS)
        response = conn.getresponse()
        if first_line:
            response.readline()
            elapsed = time.perf_counter() - started
            response.read()
        else:
            response.read()
            elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        return elapsed

    return call


def _version(package: str) -> str:
    command = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))"
    result = subprocess.run(
        [str(BENCH_PYTHON), "-c", command, package],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def _missing_bench_venv() -> str | None:
    if not BENCH_PYTHON.exists():
        return "the bench venv is missing (`make bench` installs it in build/)"
    return None


def run() -> str:
    raise_open_files()
    node = free_port()
    node_url = f"http://127.0.0.1:{node}"
    ports = {
        "direct": node,
        "bare relay": free_port(),
        "gateway": free_port(),
        "gateway on pywsgi": free_port(),
    }
    processes = {
        "direct": start_node(node, MODEL),
        **start_relays(node_url, ports),
    }
    missing = _missing_bench_venv()
    if missing is None:
        ports["aiohttp relay"] = free_port()
        processes["aiohttp relay"] = start(
            [
                str(BENCH_PYTHON),
                str(HERE / "aiohttp_relay.py"),
                node_url,
                str(ports["aiohttp relay"]),
            ]
        )
        litellm_port = free_port()
        processes["LiteLLM"] = start(
            [
                str(BENCH_PYTHON.parent / "litellm"),
                "--model",
                f"ollama_chat/{MODEL}",
                "--api_base",
                node_url,
                "--host",
                "127.0.0.1",
                "--port",
                str(litellm_port),
            ],
            bench_env(
                {
                    # a local run: no master key, no cost map download, no telemetry
                    "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "LITELLM_TELEMETRY": "False",
                }
            ),
        )
    try:
        for port in ports.values():
            wait_ready(port, "/api/show", SHOW)
        overhead = _overhead(ports)
        overhead["rss"] = {
            name: peak_rss_mb(processes[name].pid) for name in ports if name != "direct"
        }
        if missing is None:
            wait_ready(litellm_port, "/chat/completions", LITELLM_CHAT, JSON_HEADERS)
            litellm = _versus_litellm(
                node, ports["bare relay"], ports["gateway"], litellm_port
            )
            litellm["version"] = {"LiteLLM": _version("litellm")}
            litellm["rss"] = {
                "gateway": peak_rss_mb(processes["gateway"].pid),
                "LiteLLM": peak_rss_mb(processes["LiteLLM"].pid),
            }
    finally:
        stop(list(processes.values()))
        drop_redis_keys()
    relay_bound = _relay_bound()
    streams = _streams()
    parts = [
        _overhead_report(overhead),
        _relay_bound_report(relay_bound),
        _litellm_report(litellm) if missing is None else _not_measured(missing),
        _streams_report(streams),
    ]
    return "\n\n".join(parts)


def _overhead(ports: dict[str, int]) -> dict[str, dict[str, object]]:
    show = {name: _post("/api/show", SHOW) for name in ports}
    first = {name: _post("/api/generate", STREAM, first_line=True) for name in ports}
    interleaved(ports, show, scaled(200))  # warm-up
    return {
        "small": interleaved_rounds(ports, show, scaled(1000)),  # type: ignore[dict-item]
        "first": interleaved_rounds(ports, first, scaled(100)),  # type: ignore[dict-item]
        "rate": throughput(ports, show, seconds=scaled(200) / 100),  # type: ignore[dict-item]
    }


def _versus_litellm(
    node: int, bare: int, gateway: int, litellm: int
) -> dict[str, dict]:  # type: ignore[type-arg]
    ports = {
        "direct /v1": node,
        "bare relay": bare,
        "gateway": gateway,
        "direct /api/chat": node,
        "LiteLLM": litellm,
    }
    calls = {
        "direct /v1": _post("/v1/chat/completions", OPENAI_CHAT),
        "bare relay": _post("/v1/chat/completions", OPENAI_CHAT),
        "gateway": _post("/v1/chat/completions", OPENAI_CHAT),
        "direct /api/chat": _post("/api/chat", NATIVE_CHAT),
        "LiteLLM": _post("/chat/completions", LITELLM_CHAT),
    }
    interleaved(ports, calls, scaled(30))  # warm-up
    return {
        "times": interleaved_rounds(ports, calls, scaled(400)),
        "rate": throughput(ports, calls, seconds=scaled(200) / 100),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children (the workers)."""
    total = 0.0
    for one in [pid, *children(pid)]:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _fixed_upstream_and_relays(
    model: str, lines: int, interval: float
) -> tuple[int, dict[str, int], dict[str, subprocess.Popen[bytes]]]:
    """``benchmarks/stream_upstream.py`` on a free port, and a fresh bare relay
    and gateway as deployed in front of it."""
    upstream_port = free_port()
    ports = {"bare relay": free_port(), "gateway": free_port()}
    command = [sys.executable, str(HERE / "stream_upstream.py"), str(upstream_port)]
    processes = {
        "upstream": start([*command, model, str(lines), str(interval)]),
        **start_relays(f"http://127.0.0.1:{upstream_port}", ports),
    }
    return upstream_port, ports, processes


def _relay_bound() -> dict[str, object]:
    """Throughput when the relay, not the upstream, is what limits: the
    emulator's threads saturate first, so the same fixed-answer upstream as for
    the streams stands in for the node."""
    upstream_port, ports, processes = _fixed_upstream_and_relays(MODEL, 2, 0.0)
    show = {name: _post("/api/show", SHOW) for name in ports}
    rates: dict[str, list[float]] = {name: [] for name in ports}
    cpu_ms: dict[str, list[float]] = {name: [] for name in ports}
    try:
        wait_ready(upstream_port, "/api/version")
        for port in ports.values():
            wait_ready(port, "/api/show", SHOW)
        throughput(ports, show, seconds=0.5, rounds=1)  # warm-up
        for _ in range(3):
            for name, port in ports.items():
                pid = processes[name].pid
                before = _cpu_seconds(pid)
                rate = throughput(
                    {name: port}, show, seconds=scaled(200) / 100, rounds=1
                )
                rates[name].append(rate[name])
                used = _cpu_seconds(pid) - before
                cpu_ms[name].append(
                    1000 * used / max(1.0, rate[name] * scaled(200) / 100)
                )
    finally:
        stop(list(processes.values()))
        drop_redis_keys()
    return {"rates": rates, "cpu_ms": cpu_ms}


# What each process of the gateway loads, in the order it loads it: a worker
# (the relay, Redis for the shared limits), then the supervisor (the store).
_GEVENT = "from gevent import monkey; monkey.patch_all()"
_WORKER_IMPORTS = {
    "interpreter": "",
    "gevent, monkey-patched": _GEVENT,
    "the gateway's own modules": "import ollama_webmgr.commands, ollama_webmgr.runtime.gateway",
    "redis-py": "import redis",
}
_SUPERVISOR_IMPORTS = {
    "interpreter": "",
    "gevent, monkey-patched": _GEVENT,
    "the supervisor's own modules": "import ollama_webmgr.commands, ollama_webmgr.runtime.supervise, ollama_webmgr.runtime.record_writer, ollama_webmgr.runtime.gateway_upkeep",
    "SQLAlchemy and SQLite (the store)": "import ollama_webmgr.store.sql_backend, sqlalchemy.dialects.sqlite, sqlite3",
}
_RSS_SNIPPET = (
    "import sys\n{code}\n"
    "print(next(int(l.split()[1]) for l in open('/proc/self/status')"
    " if l.startswith('VmRSS')))"
)


def _import_costs(imports: dict[str, str]) -> dict[str, float]:
    """RSS (MB) each group of imports adds, each on top of the ones before."""
    costs: dict[str, float] = {}
    code, before = "", 0.0
    for name, line in imports.items():
        code = f"{code}\n{line}"
        result = subprocess.run(
            [sys.executable, "-c", _RSS_SNIPPET.format(code=code)],
            capture_output=True,
            text=True,
            check=True,
        )
        rss = int(result.stdout) / 1024
        costs[name] = rss - before
        before = rss
    return costs


def _streams() -> dict[str, object]:
    """1,000 concurrent streams through the bare relay and a fresh gateway."""
    python = sys.executable
    upstream_port, ports, processes = _fixed_upstream_and_relays(
        STREAM_MODEL, STREAM_LINES, STREAM_INTERVAL
    )
    walls: dict[str, list[float]] = {name: [] for name in ports}
    complete: dict[str, list[int]] = {name: [] for name in ports}
    errors: dict[str, set[str]] = {name: set() for name in ports}
    try:
        wait_ready(upstream_port, "/api/version")
        for port in ports.values():
            wait_ready(port, "/api/version")
        settle(processes["gateway"].pid, 1 + DEPLOYED_WORKERS)
        idle = {name: peak_rss_mb(processes[name].pid) for name in ports}
        idle_each = each_peak_mb(processes["gateway"].pid)
        pss = PeakSampler(processes["gateway"].pid)
        for _ in range(3):
            for name, port in ports.items():
                sampling = pss if name == "gateway" else contextlib.nullcontext()
                with sampling:
                    result = subprocess.run(
                        [
                            python,
                            str(HERE / "stream_clients.py"),
                            str(port),
                            str(STREAMS),
                            str(STREAM_LINES),
                            STREAM_MODEL,
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                        timeout=300,
                    )
                summary = json.loads(result.stdout)
                walls[name].append(summary["wall"])
                complete[name].append(summary["complete"])
                errors[name].update(summary["errors"])
        rss = peak_rss_mb(processes["gateway"].pid)
        largest = peak_rss_mb(processes["gateway"].pid, largest=True)
        peak_each = each_peak_mb(processes["gateway"].pid)
        bare_rss = peak_rss_mb(processes["bare relay"].pid)
    finally:
        stop(list(processes.values()))
        drop_redis_keys()
    return {
        "walls": walls,
        "complete": complete,
        "errors": errors,
        "rss": {"gateway": rss, "bare relay": bare_rss},
        "largest": largest,
        "idle": idle,
        "each": {"idle": idle_each, "peak": peak_each},
        "pss": pss.peak,
        "imports": {
            "worker": _import_costs(_WORKER_IMPORTS),
            "supervisor": _import_costs(_SUPERVISOR_IMPORTS),
        },
    }


def _overhead_report(data: dict[str, dict]) -> str:  # type: ignore[type-arg]
    small, first, rate, rss = data["small"], data["first"], data["rate"], data["rss"]
    paths = [
        p
        for p in ("bare relay", "aiohttp relay", "gateway on pywsgi", "gateway")
        if p in small[0]
    ]

    def plus(rounds: Rounds, name: str, q: int) -> float:
        return added(rounds, name, "direct", q)

    def cells(rounds: Rounds, q: int) -> str:
        return " | ".join(
            f"{at(rounds, p, q):.2f} (+{plus(rounds, p, q):.2f})" for p in paths
        )

    lines = [
        "## Gateway overhead (direct vs bare relay vs aiohttp relay vs gateway)",
        "",
        "Processes on loopback: an emulated node (`ollama-webmgr sim`), the"
        " gateway as deployed (`ollama-webmgr gateway`, the systemd unit's"
        " command, with the shipped environment's 2 workers on one port sharing"
        " Redis; SQLite store; every request counted, and recorded by the"
        " supervisor process), the same gateway in one process served by gevent's"
        " pywsgi (`benchmarks/gateway_on_pywsgi.py`), the bare reference relay"
        " (`benchmarks/bare_relay.py`:"
        " raw WSGI + one pooled urllib3 client under gevent, no features) and an"
        " asyncio relay (`benchmarks/aiohttp_relay.py`: aiohttp server + one pooled"
        " aiohttp client, the fastest Python relay known; shown for scale, no"
        " target). One client process, keep-alive connections, the paths"
        " interleaved request by request. Small request: `POST /api/show` relayed"
        " to the node (3 runs of 1,000 per path). First line: `POST /api/generate`"
        " streamed, time to the first NDJSON line (3 runs of 100). Throughput: 32 client"
        " threads, 3 rounds of 2 s per path taking turns (the client shares the 2"
        " cores, so absolute rates are lower than with an external load generator;"
        " the ratio is what counts). Added = path minus direct, same percentile, in"
        " the same run; each figure is the median over the three runs (one burst of"
        " noise on the shared machine moves one run's tail, not the figure)."
        " Peak RSS: VmHWM of the relay's processes at the end, summed (the"
        " gateway: its supervisor and workers).",
        "",
        "Targets for the gateway as deployed: added latency ≤ 0.6× the bare"
        " relay's at p50 and ≤ 1.0× at p99, added time to the first line ≤ 1.0×;"
        " throughput with 32 clients ≥ 1.2× the bare relay's (measured where the"
        " relay is the limit, in the next section). The gateway relays"
        " through its own HTTP/1.1 client (`gateway/upstream.py`: one `sendall`"
        " per request, answers parsed by llhttp from a buffered reader), the bare"
        " relay through urllib3, whose header parsing and layers cost more than"
        " all of the gateway's features: hence a gateway faster than the bare"
        " relay.",
        "",
        f"| measure (ms) | direct | {' | '.join(paths)} | gateway / bare |",
        "|---|---|" + "---|" * len(paths) + "---|",
    ]
    for q in (50, 99):
        ratio = plus(small, "gateway", q) / plus(small, "bare relay", q)
        lines.append(
            f"| small request p{q} | {at(small, 'direct', q):.2f}"
            f" | {cells(small, q)} | {mark(ratio, 0.6 if q == 50 else 1.0)} |"
        )
    ratio = plus(first, "gateway", 50) / plus(first, "bare relay", 50)
    lines.append(
        f"| first streamed line p50 | {at(first, 'direct', 50):.2f}"
        f" | {cells(first, 50)} | {mark(ratio, 1.0)} |"
    )
    lines.append(
        f"| throughput, 32 clients (req/s) | {rate['direct']:.0f} | "
        + " | ".join(f"{rate[p]:.0f}" for p in paths)
        + f" | {rate['gateway'] / rate['bare relay']:.2f}× (node-bound, below) |"
    )
    lines.append(
        "| peak RSS (MB) | – | "
        + " | ".join(f"{rss[p]:.0f}" for p in paths)
        + f" | {rss['gateway'] / rss['bare relay']:.2f}× |"
    )
    own = plus(small, "gateway on pywsgi", 50) - plus(small, "gateway", 50)
    lines += [
        "",
        "The gateway on its own server (`http_server.LeanWSGIServer`) against the"
        " same gateway on gevent's pywsgi (`benchmarks/gateway_on_pywsgi.py`):"
        f" {own:.2f} ms less added at p50.",
    ]
    if "aiohttp relay" in small[0]:
        lines += [
            "",
            "Distance to the asyncio relay: the gateway adds"
            f" {plus(small, 'gateway', 50) / plus(small, 'aiohttp relay', 50):.2f}×"
            " its latency at p50 and serves"
            f" {rate['gateway'] / rate['aiohttp relay']:.2f}× its throughput.",
        ]
    return "\n".join(lines)


def _relay_bound_report(data: dict[str, dict]) -> str:  # type: ignore[type-arg]
    rates, cpu_ms = data["rates"], data["cpu_ms"]
    rate = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpu_ms.items()}
    lines = [
        "### Throughput when the relay is the limit",
        "",
        "Over the emulated node the throughput above measures the node more than"
        " the relays: with the client sharing the 2 cores, the node's threads"
        " saturate first and every path tops out near the direct rate. Here the"
        " same fixed answer (`benchmarks/stream_upstream.py`: gevent, `/api/show`"
        " answers a constant body of about the node's size) is served to a fresh"
        " bare relay and a fresh gateway as deployed (2 workers sharing Redis);"
        " 32 client threads, 3 rounds of 2 s per path taking turns, the median"
        " round counts. CPU per request: the relay's processes' user + system"
        " time over the round (the gateway: supervisor and workers) divided by"
        " the requests answered.",
        "",
        "Target: throughput with 32 clients ≥ 1.2× the bare relay's.",
        "",
        "| path | req/s, median | rounds (req/s) | relay CPU per request (ms) |",
        "|---|---|---|---|",
    ]
    for name in ("bare relay", "gateway"):
        lines.append(
            f"| {name} | {rate[name]:.0f}"
            f" | {' / '.join(f'{r:.0f}' for r in rates[name])} | {cpu[name]:.2f} |"
        )
    ratio = rate["gateway"] / rate["bare relay"]
    lines += [
        "",
        f"Gateway / bare relay throughput: {mark(ratio, 1.2, higher=True)}; CPU per"
        f" request {cpu['gateway'] / cpu['bare relay']:.2f}×.",
    ]
    return "\n".join(lines)


def _litellm_report(data: dict[str, dict]) -> str:  # type: ignore[type-arg]
    times, rate, rss = data["times"], data["rate"], data["rss"]

    lines = [
        "### Against LiteLLM's proxy (non-stream chat)",
        "",
        f"Same run, same node. LiteLLM {data['version']['LiteLLM']}'s proxy (`litellm --model"
        f" ollama_chat/{MODEL} --api_base <node>`, default settings, one uvicorn"
        " worker, installed from the `bench` extra) answers `POST /chat/completions`"
        " by calling the node's `/api/chat`; the gateway answers the same OpenAI"
        " request on `POST /v1/chat/completions` by relaying it to the node's"
        " `/v1/chat/completions`. Each is compared with a direct call to the"
        " endpoint it uses (`max_tokens` 1: the emulator waits 3 ms per token), so"
        " added latency is the proxy's own work. 3 runs of 400 interleaved requests"
        " per path, medians over the runs as above;"
        " throughput as above. Peak RSS: VmHWM of the process (and its children).",
        "",
        "Target: gateway added latency ≤ 0.05× LiteLLM's, p50 and p99. The bare"
        " relay relays the same request as the gateway: its ratio is that of a"
        " feature-less gevent relay over urllib3 on this machine.",
        "",
        "| measure | direct `/v1/chat/completions` | bare relay | gateway"
        " | direct `/api/chat` | LiteLLM | gateway / LiteLLM | bare / LiteLLM |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q in (50, 99):
        bare = added(times, "bare relay", "direct /v1", q)
        gateway = added(times, "gateway", "direct /v1", q)
        litellm = added(times, "LiteLLM", "direct /api/chat", q)
        lines.append(
            f"| p{q} (ms) | {at(times, 'direct /v1', q):.2f}"
            f" | {at(times, 'bare relay', q):.2f} (+{bare:.2f})"
            f" | {at(times, 'gateway', q):.2f} (+{gateway:.2f})"
            f" | {at(times, 'direct /api/chat', q):.2f}"
            f" | {at(times, 'LiteLLM', q):.2f} (+{litellm:.2f})"
            f" | {mark(gateway / litellm, 0.05)} | {bare / litellm:.2f}× |"
        )
    lines.append(
        f"| throughput, 32 clients (req/s) | {rate['direct /v1']:.0f}"
        f" | {rate['bare relay']:.0f} | {rate['gateway']:.0f} | {rate['direct /api/chat']:.0f}"
        f" | {rate['LiteLLM']:.0f} | {rate['gateway'] / rate['LiteLLM']:.1f}×"
        f" | {rate['bare relay'] / rate['LiteLLM']:.1f}× |"
    )
    per_run = [
        (quantile(run["gateway"], q) - quantile(run["direct /v1"], q))
        / (quantile(run["LiteLLM"], q) - quantile(run["direct /api/chat"], q))
        for q in (50, 99)
        for run in times
    ]
    spread = [" / ".join(f"{r:.2f}×" for r in per_run[i : i + 3]) for i in (0, 3)]
    after = [
        "",
        f"Gateway / LiteLLM in each run: p50 {spread[0]}; p99 {spread[1]}.",
    ]
    lines.append(
        f"| peak RSS (MB) | – | – | {rss['gateway']:.0f} | – | {rss['LiteLLM']:.0f}"
        f" | {rss['gateway'] / rss['LiteLLM']:.2f}× | – |"
    )
    return "\n".join(lines + after)


def _not_measured(reason: str) -> str:
    return (
        "### Against LiteLLM's proxy, and the aiohttp relay\n\n"
        f"Not measured in this run: {reason}."
    )


def _streams_report(data: dict[str, dict]) -> str:  # type: ignore[type-arg]
    walls, complete, errors, rss = (
        data["walls"],
        data["complete"],
        data["errors"],
        data["rss"],
    )
    wall = {name: statistics.median(values) for name, values in walls.items()}
    lines = [
        f"### {STREAMS:,} concurrent streams",
        "",
        f"A tiny upstream (`benchmarks/stream_upstream.py`, gevent) answers each"
        f" `/api/generate` with {STREAM_LINES} NDJSON lines,"
        f" {STREAM_INTERVAL * 1000:.0f} ms apart (the emulator's threads are not"
        " built for a thousand streams; the upstream is the same for both paths)."
        f" A client process (`benchmarks/stream_clients.py`, gevent) opens"
        f" {STREAMS:,} connections, then sends every request at once; wall time"
        " runs until the last stream ends, and a stream is complete when its"
        f" {STREAM_LINES} lines end with the final `done` line. Three rounds per"
        " path, taking turns; the median wall time counts. The gateway is a fresh"
        " `ollama-webmgr gateway` as deployed (2 workers sharing Redis; its RSS"
        " is the sum of the supervisor and the workers; the machine's other"
        " load can slow the rounds but hardly changes memory), with its default"
        " settings: no"
        " per-server concurrency limit (0, unlimited) and so no queue. Its RSS is"
        " its peak resident memory (VmHWM) over the three rounds. Both keep up"
        " to 256 idle upstream connections; the bare relay resolves the"
        " upstream's address in gevent's thread pool (ten OS threads during the"
        " burst, which also spread its connections out in time), the gateway"
        " in place on its one thread.",
        "",
        "Targets: all complete; wall time ≤ 1.0× the bare relay's; gateway peak"
        " RSS ≤ 100 MB (the sum over its processes; its PSS, which counts the"
        " pages they share once, is sampled every 0.1 s during its rounds and"
        " shown beside it).",
        "",
        "| path | complete (3 rounds) | wall time, median (s) | rounds (s)"
        " | peak RSS before the rounds (MB) | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("bare relay", "gateway"):
        done = all(n == STREAMS for n in complete[name])
        lines.append(
            f"| {name} | {' / '.join(map(str, complete[name]))}"
            f" {'✅' if done or name != 'gateway' else '❌'}"
            f" | {wall[name]:.2f} | {' / '.join(f'{w:.2f}' for w in walls[name])}"
            f" | {data['idle'][name]:.0f} | {rss[name]:.0f}"
            + (f" {'✅' if rss[name] <= 100 else '❌'}" if name == "gateway" else "")
            + " |"
        )
    lines += [
        "",
        f"Gateway / bare relay wall time: {mark(wall['gateway'] / wall['bare relay'], 1.0)}."
        f" The gateway's largest process peaked at {data['largest']:.0f} MB; the"
        f" peak PSS of its processes together was {data['pss']:.0f} MB.",
    ]
    each = data["each"]
    roles = ["supervisor"] + [f"worker {n}" for n in range(1, len(each["peak"]))]
    lines += [
        "",
        "Per process of the gateway, peak resident memory (VmHWM, MB) before the"
        " rounds and over them:",
        "",
        "| process | before the rounds | over the rounds |",
        "|---|---|---|",
        *(
            f"| {role} | {idle:.0f} | {peak:.0f} |"
            for role, idle, peak in zip(roles, each["idle"], each["peak"], strict=False)
        ),
    ]
    imports = data["imports"]

    def chain(costs: dict[str, float]) -> str:
        total = sum(costs.values())
        return ", ".join(f"{n} {mb:.0f}" for n, mb in costs.items()) + (
            f" (together {total:.0f} MB)"
        )

    floor = (
        imports["worker"]["interpreter"] + imports["worker"]["gevent, monkey-patched"]
    )
    lines += [
        "",
        "Where each process's memory goes before its first request (RSS in MB each"
        " group of imports adds in a fresh interpreter, in the order the process"
        f" loads them). A worker: {chain(imports['worker'])}. The supervisor:"
        f" {chain(imports['supervisor'])}. A worker opens no store: the"
        " supervisor, which stores the records, reads the gateway's settings, keys,"
        " fleet and drained servers and pushes them to the workers over their pipe"
        " (`runtime/gateway_upkeep.py`); the supervisor builds no relay, health"
        " monitor or HTTP client. Every process pays the interpreter and"
        f" monkey-patched gevent, {floor:.0f} MB (gevent also loads `ssl` and"
        " `importlib.metadata`, for its plugins, which the rest would load"
        " anyway); a worker also pays redis-py (8.x imports its asyncio and cluster clients with"
        " the package, and the gateway shares its limits through it: `import"
        " redis` loads `redis.asyncio` from the package itself, so no lighter"
        " import path exists; a Redis client of our own would save about that"
        " much per worker, still far from the target), the supervisor"
        " SQLAlchemy. The rest is what each process builds and, in"
        " the workers, the connections, greenlets and buffers of the streams."
        f" Three such processes start above {3 * floor:.0f} MB before any code"
        " of ours, so the 100 MB target would take fewer processes or a lighter"
        " runtime, not trimming.",
    ]
    failures = sorted(errors["gateway"] | errors["bare relay"])
    if failures:
        lines.append(f"Errors seen: {'; '.join(failures[:5])}.")
    return "\n".join(lines)
