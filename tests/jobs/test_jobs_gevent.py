"""The runner, both buses and the SSE generator under gevent's monkey-patching.

Production runs gevent (one process, many SSE clients); tests do not patch, so this
runs a probe in a fresh interpreter that does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROBE = Path(__file__).with_name("jobs_gevent_probe.py")
EXPECTED = [
    "event: status",  # the job's state
    "event: status",  # running
    "event: status",
    "event: status",
    "event: status",
    "event: done",
]


def run_probe(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(PROBE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def check(result: dict[str, Any]) -> None:
    assert result["kinds"] == EXPECTED
    assert result["keepalives"] >= 3
    assert result["ticks"] > 20  # the hub kept serving other greenlets


def test_memory_mode_streams_under_gevent() -> None:
    check(run_probe()["memory"])


@pytest.mark.redis
def test_redis_mode_streams_under_gevent(redis_conn: Any) -> None:
    check(run_probe("--redis")["redis"])
