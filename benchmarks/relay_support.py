"""Process and measurement helpers of ``bench_gateway.py`` (not a benchmark)."""

from __future__ import annotations

import http.client
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_PYTHON = ROOT / "build" / "bench-venv" / "bin" / "python"
BENCHMARKS = ROOT / "benchmarks"
Call = Callable[[http.client.HTTPConnection], float]
Rounds = list[dict[str, list[float]]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raise_open_files() -> None:
    """Children inherit it: a thousand streams need ~3,000 descriptors."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start(
    command: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )


def wait_ready(
    port: int,
    path: str = "/",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 90,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST" if body else "GET", path, body, headers or {})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"port {port} did not answer {path}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _kib_each(pid: int, proc_file: str, field: str) -> list[int]:
    """``field`` (in kB) of ``/proc/<pid>/<proc_file>``, for the process and
    each of its children still there."""
    found = []
    for each in [pid, *children(pid)]:
        try:
            text = Path(f"/proc/{each}/{proc_file}").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith(field):
                found.append(int(line.split()[1]))
    return found


def peak_rss_mb(pid: int, *, largest: bool = False) -> float:
    """Peak resident memory (VmHWM) of a process and its children, in MB:
    their sum, or with ``largest`` that of the largest one."""
    each_kib = _kib_each(pid, "status", "VmHWM:")
    return (max(each_kib, default=0) if largest else sum(each_kib)) / 1024


def each_peak_mb(pid: int) -> list[float]:
    """Peak resident memory (VmHWM) of a process, then of each of its children,
    in MB (a supervisor, then its workers)."""
    return [kib / 1024 for kib in _kib_each(pid, "status", "VmHWM:")]


def settle(
    pid: int, processes: int, *, quiet: float = 1.0, timeout: float = 60
) -> None:
    """Wait until ``pid`` has ``processes`` processes (itself and its
    children) whose memory stopped growing for ``quiet`` seconds: the port
    answers as soon as one worker serves, the others may still be starting."""
    deadline = time.monotonic() + timeout
    last: list[int] = []
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        now = _kib_each(pid, "status", "VmRSS:")
        if len(now) != processes or now != last:
            last, stable_since = now, time.monotonic()
        elif time.monotonic() - stable_since >= quiet:
            return
        time.sleep(0.1)
    raise RuntimeError(f"process {pid} did not settle in {timeout:.0f} s")


def pss_mb(pid: int) -> float:
    """Proportional set size of a process and its children, summed, in MB:
    pages shared between them (the interpreter, libraries) counted once."""
    return sum(_kib_each(pid, "smaps_rollup", "Pss:")) / 1024


class PeakSampler:
    """The highest ``pss_mb(pid)`` seen, sampled every 0.1 s inside each
    ``with`` block (a sampler may be entered again: the peak carries over)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread()

    def __enter__(self) -> PeakSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, pss_mb(self.pid))


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found + [grand for child in found for grand in children(child)]


def interleaved(
    ports: dict[str, int], calls: dict[str, Call], n: int
) -> dict[str, list[float]]:
    """``n`` rounds, one call per path each round, on keep-alive connections (ms)."""
    conns = {
        name: http.client.HTTPConnection("127.0.0.1", port)
        for name, port in ports.items()
    }
    times: dict[str, list[float]] = {name: [] for name in ports}
    for _ in range(n):
        for name, conn in conns.items():
            times[name].append(calls[name](conn) * 1000)
    for conn in conns.values():
        conn.close()
    return times


def interleaved_rounds(
    ports: dict[str, int], calls: dict[str, Call], n: int, rounds: int = 3
) -> Rounds:
    """``rounds`` separate runs of ``interleaved``: quantiles are read per run and
    their median kept (``at``, ``added``), so that one burst of noise on the
    shared machine moves one run's tail, not the figure."""
    return [interleaved(ports, calls, n) for _ in range(rounds)]


def at(rounds: Rounds, name: str, q: float) -> float:
    """Median over the runs of the ``q``-th percentile of ``name`` (ms)."""
    return statistics.median(quantile(run[name], q) for run in rounds)


def added(rounds: Rounds, name: str, base: str, q: float) -> float:
    """Median over the runs of ``name``'s percentile minus ``base``'s (ms)."""
    return statistics.median(
        quantile(run[name], q) - quantile(run[base], q) for run in rounds
    )


def throughput(
    ports: dict[str, int],
    calls: dict[str, Call],
    *,
    clients: int = 32,
    seconds: float = 2.0,
    rounds: int = 3,
) -> dict[str, float]:
    """Requests per second with ``clients`` threads, the paths taking turns."""
    done = dict.fromkeys(ports, 0)
    for _ in range(rounds):
        for name, port in ports.items():
            done[name] += _load(port, calls[name], clients, seconds)
    return {name: n / (seconds * rounds) for name, n in done.items()}


def _load(port: int, call: Call, clients: int, seconds: float) -> int:
    done = [0] * clients
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            call(conn)
            done[index] += 1
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done)


def load_latencies(
    port: int, call: Call, clients: int = 32, seconds: float = 3.0
) -> list[float]:
    """Every request's latency (ms) with ``clients`` threads for ``seconds``."""
    times: list[list[float]] = [[] for _ in range(clients)]
    stop_at = time.monotonic() + seconds

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop_at:
            times[index].append(call(conn) * 1000)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [t for per_client in times for t in per_client]


def scaled(n: float) -> int:
    """``n`` times ``BENCH_SCALE`` (default 1; e.g. 0.01 checks a script runs)."""
    return max(2, round(n * float(os.environ.get("BENCH_SCALE", "1"))))


def quantile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (``q`` may be 99.9)."""
    if q == int(q):
        return statistics.quantiles(values, n=100)[int(q) - 1]
    return statistics.quantiles(values, n=1000)[round(q * 10) - 1]


def mark(ratio: float, limit: float, *, higher: bool = False) -> str:
    ok = ratio >= limit if higher else ratio <= limit
    return f"{ratio:.2f}× {'✅' if ok else '❌'}"


def bench_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


REDIS_URL = "redis://127.0.0.1:6379/0"
#: worker processes of the gateway as deployed (the env file's WEB_CONCURRENCY)
DEPLOYED_WORKERS = 2
_prefixes: list[str] = []


def gateway_env(upstream: str, *, deployed: bool) -> dict[str, str]:
    """A gateway's environment over ``upstream`` with a SQLite store of its own;
    ``deployed``: as the shipped environment file runs it, several workers
    sharing Redis (a fresh key prefix, dropped by ``drop_redis_keys``)."""
    data = tempfile.mkdtemp(prefix="bench-gw-")
    env = {
        "OLLAMA_BASE_URL": upstream,
        "WEBMGR_DATA_DIR": data,
        "DATABASE_URL": f"sqlite:///{data}/store.sqlite3",
        "WEB_CONCURRENCY": "1",
        "REDIS_URL": "",
    }
    if deployed:
        _require_redis()
        prefix = f"bench-{uuid.uuid4().hex[:10]}"
        _prefixes.append(prefix)
        env |= {
            "REDIS_URL": REDIS_URL,
            "REDIS_PREFIX": prefix,
            "WEB_CONCURRENCY": str(DEPLOYED_WORKERS),
        }
    return bench_env(env)


def _require_redis() -> None:
    import redis

    connection = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except redis.ConnectionError as exc:
        raise RuntimeError(
            f"the gateway is measured as deployed, with Redis: none at {REDIS_URL}"
        ) from exc
    finally:
        connection.close()


def drop_redis_keys() -> None:
    """Delete the keys of the deployed gateways started so far."""
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    try:
        for prefix in _prefixes:
            keys = list(connection.scan_iter(match=f"{prefix}*"))
            if keys:
                connection.delete(*keys)
    finally:
        connection.close()
    _prefixes.clear()


def start_node(port: int, model: str) -> subprocess.Popen[bytes]:
    """An emulated Ollama node (``ollama-webmgr sim``) holding ``model``."""
    command = ["-m", "ollama_webmgr", "sim", "--models", model, "--port", str(port)]
    return start([sys.executable, *command])


def start_relays(
    upstream: str, ports: dict[str, int]
) -> dict[str, subprocess.Popen[bytes]]:
    """The bare relay, the gateway as deployed and the gateway on pywsgi (one
    process), those that have a port in ``ports``, in front of ``upstream``
    (each gateway with a store of its own)."""
    python = sys.executable
    commands = {
        "bare relay": [python, str(BENCHMARKS / "bare_relay.py"), upstream],
        "gateway": [python, "-m", "ollama_webmgr", "gateway", "--port"],
        "gateway on pywsgi": [python, str(BENCHMARKS / "gateway_on_pywsgi.py")],
    }
    envs = {
        "bare relay": None,
        "gateway": gateway_env(upstream, deployed=True),
        "gateway on pywsgi": gateway_env(upstream, deployed=False),
    }
    return {
        name: start([*command, str(ports[name])], envs[name])
        for name, command in commands.items()
        if name in ports
    }
