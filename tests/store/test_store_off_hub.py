"""``off_hub`` under gevent, in child processes monkey-patched as the commands are.

- A slow store write runs on the writer thread with a handle of its own: the
  hub keeps serving (a greenlet ticks every millisecond meanwhile).
- Greenlets reading the store while the writer writes (SQLite, PostgreSQL,
  TinyDB) all finish, and the writes go on: threads sharing greenlet locks
  used to hang (TinyDB) or crawl (several writer threads on SQLite).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SLOW_WRITE = r"""
from gevent import monkey
monkey.patch_all()
import json, sys, threading, time
import gevent
from gevent.monkey import get_original
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.store.database import open_database

db = open_database(sys.argv[1])
blocking_sleep = get_original("time", "sleep")
seen = {}

def slow_write(handle, value):
    seen["thread"] = threading.get_native_id()
    seen["own_handle"] = handle is not db
    blocking_sleep(0.3)  # a C call holding this OS thread, not the GIL
    handle.insert("audit", {"who": value})
    return "written"

ticks = []
def ticker():
    while "done" not in seen:
        ticks.append(time.monotonic())
        gevent.sleep(0.001)

watch = gevent.spawn(ticker)
seen["result"] = off_hub(db, slow_write, "test")
seen["done"] = True
watch.join()
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(json.dumps({
    "result": seen["result"],
    "own_handle": seen["own_handle"],
    "other_thread": seen["thread"] != threading.get_native_id(),
    "stored": db.count("audit"),
    "ticks": len(ticks),
    "longest_gap_ms": max(gaps, default=0) * 1000,
}))
db.close()
"""

BUSY_STORE = r"""
from gevent import monkey
monkey.patch_all()
import json, sys, time
import gevent
from ollama_webmgr.off_hub import off_hub
from ollama_webmgr.store.database import open_database
from ollama_webmgr.store.records import record_server_check

db = open_database(sys.argv[1])
# until both made enough progress, or 10 s (a loaded or measured machine is slower)
stop_at = time.monotonic() + 10
counts = {"reads": 0, "writes": 0}

def going():
    enough = counts["reads"] > 150 and counts["writes"] > 25
    return not enough and time.monotonic() < stop_at

def reader():
    while going():
        db.find("audit", [], limit=5)
        counts["reads"] += 1
        gevent.sleep(0)

def writer():
    while going():
        off_hub(db, record_server_check, "127.0.0.1:11434", healthy=True)
        counts["writes"] += 1
        gevent.sleep(0.005)

jobs = [gevent.spawn(reader) for _ in range(10)] + [gevent.spawn(writer)]
gevent.joinall(jobs, timeout=20)
counts["hung"] = sum(not job.dead for job in jobs)
print(json.dumps(counts))
db.close()
"""


def _child(script: str, url: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", script, url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_slow_write_leaves_the_hub_serving(store_url):
    report = _child(SLOW_WRITE, store_url)
    assert report["result"] == "written"
    assert report["stored"] == 1
    assert report["own_handle"]
    assert report["other_thread"]
    # a stalled hub would tick once, then wait 300 ms
    assert report["ticks"] > 50
    assert report["longest_gap_ms"] < 150


@pytest.mark.parametrize("store_url", ["tinydb"], indirect=True)
def test_tinydb_writes_in_place(store_url):
    report = _child(SLOW_WRITE, store_url)
    assert report["stored"] == 1
    assert not report["own_handle"]
    assert not report["other_thread"]


def test_readers_and_the_writer_both_progress(store_url):
    report = _child(BUSY_STORE, store_url)
    assert report["hung"] == 0
    assert report["reads"] > 100
    # The readers keep the hub busy, so the writer thread waits for the GIL
    # (about 50 writes in 2 s here); sharing the readers' locks it made 2 in
    # 2 s, so 10 s would not have reached 20.
    assert report["writes"] > 20
