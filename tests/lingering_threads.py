"""A test run ends when its tests do: no thread left behind may hold the exit.

Python joins every non-daemon thread (thread-pool workers included) before the
process exits, so a test that leaves one running — a job runner with a pull in
progress, say — makes pytest print its summary and then hang until that thread
ends (once 40 minutes of CI). After the run, the threads still alive get a few
seconds; any left then are named with their stacks and the run fails at once.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

import pytest

GRACE = 10.0
_status: dict[str, int] = {}


def _lingering() -> list[threading.Thread]:
    main = threading.main_thread()
    return [
        t
        for t in threading.enumerate()
        if t is not main and not t.daemon and t.is_alive()
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _status["exit"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    deadline = time.monotonic() + GRACE
    threads = _lingering()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = [t for t in threads if t.is_alive()]
    if not left:
        return
    frames = sys._current_frames()
    report = f"{len(left)} thread(s) still running after the tests, holding the exit:\n"
    for thread in left:
        frame = frames.get(thread.ident or -1)
        stack = traceback.format_stack(frame)[-8:] if frame is not None else []
        report += f"--- {thread.name}\n" + "".join(stack)
    sys.stderr.write(report)
    sys.stderr.flush()
    os._exit(_status.get("exit") or 1)
