"""The shared budget across processes: two processes drawing from one budget
file keep together to its rate and share it equally; a flow that ends stops
counting; no cap costs nothing (no file)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from ollama_webmgr.ollama.bandwidth import QUANTUM, Budget
from process_env import clean_env

RATE = 2_000_000  # bytes/s
QUANTA = 30  # per process: 2 MB, about 1 s alone, 2 s side by side

#: one process: take QUANTA quanta, print when each was paid for
FLOW = """
import json, sys, time
from pathlib import Path
from ollama_webmgr.ollama.bandwidth import QUANTUM, Budget
budget = Budget(Path(sys.argv[1]), "registry", float(sys.argv[2]))
times = []
with budget.flow(sys.argv[3]) as flow:
    for _ in range(int(sys.argv[4])):
        flow.took(QUANTUM)
        times.append(time.time())
print(json.dumps(times))
"""


def test_two_processes_share_one_rate_equally(tmp_path: Path) -> None:
    started = time.time()
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", FLOW, str(tmp_path), str(RATE), name, str(QUANTA)],
            stdout=subprocess.PIPE,
            env=clean_env(),
        )
        for name in ("a", "b")
    ]
    times = [json.loads(run.communicate(timeout=30)[0]) for run in runs]
    ended = max(t[-1] for t in times)
    total = 2 * QUANTA * QUANTUM
    # together at most the rate (a quantum each of slack)...
    assert ended - started >= (total - 2 * QUANTUM) / RATE
    # ...and equal shares: each got about half until both were done
    first_done = min(t[-1] for t in times)
    paid_by = [sum(1 for at in t if at <= first_done) for t in times]
    assert min(paid_by) >= 0.8 * max(paid_by), paid_by
    # both ended: nothing counts any more
    assert Budget(tmp_path, "registry", RATE).snapshot().flows == []


def test_a_flow_counts_while_it_runs_then_not(tmp_path: Path) -> None:
    budget = Budget(tmp_path, "registry", RATE)
    with budget.flow("sha256:x") as flow:
        flow.took(QUANTUM)
        flow.took(QUANTUM)  # its rate, published when it books, counts the first
        use = budget.snapshot()
        assert [f.label for f in use.flows] == ["sha256:x"]
        assert use.rate > 0
        assert use.share() == RATE
    assert budget.snapshot().flows == []


def test_without_a_cap_nothing_is_written_nor_waited(tmp_path: Path) -> None:
    budget = Budget(tmp_path / "bw", "registry", None)
    started = time.monotonic()
    with budget.flow("x") as flow:
        for _ in range(1000):
            flow.took(QUANTUM)
    assert time.monotonic() - started < 0.5
    assert not (tmp_path / "bw").exists()
    assert budget.snapshot().share() is None


def test_paced_bytes_go_out_at_the_rate_whole(tmp_path: Path) -> None:
    budget = Budget(tmp_path, "node-a", 1_000_000)
    data = [b"x" * 10_000] * 50  # 500 kB
    started = time.monotonic()
    out = b"".join(budget.paced(iter(data), "blob"))
    took = time.monotonic() - started
    assert out == b"".join(data)
    # the first quantum goes at once, the rest at the rate
    assert took >= (len(out) - QUANTUM) / 1_000_000 * 0.95


def test_the_rate_shown_under_a_low_cap_stays_at_it(tmp_path: Path) -> None:
    """At 100 kB/s a quantum is 0.65 s of the line: over one second the rate
    shown would swing between one and two quanta (65 to 131 kB/s), « 131 ko/s
    sur 100 ko/s ». Measured over the last 5 s it stays near the cap."""
    rate = 100_000.0
    budget = Budget(tmp_path, "registry", rate)
    shown = []
    with budget.flow("low") as flow:
        started = time.time()
        while time.time() - started < 6.5:
            flow.took(QUANTUM)
            if time.time() - started >= 2:  # past the first quanta
                shown.append(budget.snapshot().rate)
    assert len(shown) >= 5
    assert all(0.6 * rate <= value <= 1.1 * rate for value in shown), shown
