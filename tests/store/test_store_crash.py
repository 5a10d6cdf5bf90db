"""kill -9 during a burst of writes: the file opens and holds every acknowledged write.

The child inserts documents (and samples) in a loop and prints each id only after
the call returned; the parent kills it at an arbitrary moment, then reopens.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ollama_webmgr.store.database import open_database

CHILD = """
import sys
from ollama_webmgr.store.database import Sample, open_database

db = open_database(sys.argv[1])
i = 0
while True:
    doc_id = db.insert("jobs", {"n": i, "pad": "x" * 200})
    db.add_samples([Sample("a", "load", float(i), 1.0)])
    print(doc_id, flush=True)
    i += 1
"""


def kill_during_burst(url: str, acknowledged_before_kill: int) -> list[str]:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, url], stdout=subprocess.PIPE, text=True
    ) as child:
        return _read_then_kill(child, acknowledged_before_kill)


def _read_then_kill(child: subprocess.Popen[str], count: int) -> list[str]:
    assert child.stdout is not None
    ids = []
    deadline = time.monotonic() + 60
    while len(ids) < count and time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            break
        ids.append(line.strip())
    os.kill(child.pid, signal.SIGKILL)
    ids += [line.strip() for line in child.stdout if line.strip()]
    child.wait()
    assert child.returncode == -signal.SIGKILL
    return ids


@pytest.mark.parametrize(
    ("scheme", "name", "writes"),
    [("sqlite", "crash.sqlite3", 300), ("tinydb", "crash.json", 150)],
)
def test_acknowledged_writes_survive_kill_9(
    tmp_path: Path, scheme: str, name: str, writes: int
) -> None:
    url = f"{scheme}:///{tmp_path / name}"
    acknowledged: list[str] = []
    for _round in range(2):
        acknowledged += kill_during_burst(url, writes)
        db = open_database(url)
        try:
            stored = {doc["id"] for doc in db.find("jobs")}
            assert set(acknowledged) <= stored
            # at most the write in flight may have landed without its ack
            assert len(stored) - len(acknowledged) <= 1
            assert db.series_counts()["server_stats"] >= len(acknowledged)
        finally:
            db.close()
    assert len(acknowledged) >= 2 * writes
