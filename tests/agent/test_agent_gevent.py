"""The agent and the collector in one gevent-patched process, as `serve` runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).with_name("agent_gevent_probe.py")


def test_collector_talks_to_an_agent_under_gevent(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(tmp_path / "store.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["samples"] >= 2
    assert "is unreachable" in report["error"]
    assert report["seconds"] < 1.5
