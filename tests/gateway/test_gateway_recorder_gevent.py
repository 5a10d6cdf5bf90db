"""Under gevent the recorder's sink runs on an OS thread: a slow store write
must not stall the requests served meanwhile (it held the hub 10-20 ms a second).

The check runs in a child process, monkey-patched as ``ollama-webmgr gateway``
is: a greenlet ticks every millisecond while the sink blocks for 300 ms in C
(the GIL released, as SQLite and libpq do).
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
from gevent import monkey
monkey.patch_all()

import json, threading, time
import gevent
from gevent.monkey import get_original
from ollama_webmgr.gateway.stats import BatchRecorder

blocking_sleep = get_original("time", "sleep")
seen = {}

def slow_sink(records):
    seen["thread"] = threading.get_native_id()
    seen["records"] = len(records)
    blocking_sleep(0.3)  # a C call holding this OS thread, not the GIL
    seen["sink_done"] = time.monotonic()

ticks = []
def ticker():
    while "sink_done" not in seen:
        ticks.append(time.monotonic())
        gevent.sleep(0.001)

recorder = BatchRecorder(slow_sink, interval=0.05)
recorder.start()
for n in range(3):
    recorder.submit(n)
watch = gevent.spawn(ticker)
watch.join(timeout=5)
recorder.stop()
gaps = [b - a for a, b in zip(ticks, ticks[1:])]
print(json.dumps({
    "records": seen.get("records"),
    "other_thread": seen.get("thread") != threading.get_native_id(),
    "ticks": len(ticks),
    "longest_gap_ms": max(gaps) * 1000 if gaps else None,
}))
"""


def test_a_slow_sink_does_not_stall_the_gevent_hub():
    result = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["records"] == 3
    assert report["other_thread"]
    # a stalled hub would tick once, then wait 300 ms
    assert report["ticks"] > 50
    assert report["longest_gap_ms"] < 150
