"""Server-Sent Events on the web port of the real ``serve`` process: each
event leaves as it happens, and clients that go away are let go."""

from __future__ import annotations

import time

import httpx
from inbound_support import PULLED, Served

from waiting import wait_until


def test_progress_events_flush_one_by_one_and_gone_clients_are_released(
    served: Served,
) -> None:
    base = f"http://127.0.0.1:{served.web}"
    with httpx.Client(base_url=base, timeout=10) as client:
        started = client.post("/api/models/pull", json={"name": PULLED})
        assert started.status_code == 202, started.text
        job = started.json()["job_id"]
        baseline = served.descriptors()
        # a few readers that go away after two progress events
        arrivals: list[float] = []
        for reader in range(4):
            with client.stream("GET", f"/api/stream/progress?job_id={job}") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                events = 0
                for line in response.iter_lines():
                    if line.startswith("event: progress"):
                        events += 1
                        if reader == 0:
                            arrivals.append(time.monotonic())
                    if events == 3:
                        break
        # one reader to the end
        with client.stream("GET", f"/api/stream/progress?job_id={job}") as response:
            kinds = [
                line.removeprefix("event: ")
                for line in response.iter_lines()
                if line.startswith("event: ")
            ]
    assert kinds[-1] == "done"
    # events came apart in time (not held until the end of the job)
    assert arrivals[-1] - arrivals[0] > 0.05
    # the readers that left were noticed: their connections are gone
    wait_until(
        lambda: served.descriptors() <= baseline + 1, 20, "gone readers released"
    )
