"""Waiting for a condition instead of sleeping for a guessed time.

A fixed sleep is either too short on a loaded machine (the test fails for
nothing) or longer than needed everywhere (the suite crawls); polling the
condition itself is neither.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 5.0, what: str = "the condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that;
    fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)
    return value


def blocked_in(thread: threading.Thread, function: str) -> bool:
    """Whether ``thread`` is now inside a call of ``function`` (a name)."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
