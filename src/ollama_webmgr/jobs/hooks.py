"""Fan one job ``on_change`` hook out to several listeners.

A runner takes a single ``on_change`` callable; persistence, metrics and
whatever comes next each want to see every change. ``JobListeners`` is that
callable: listeners run in order, and one that raises is logged and skipped so
it cannot break a job or starve the others.

>>> seen = []
>>> hooks = JobListeners(seen.append)
>>> hooks.add(lambda job: seen.append("second"))
>>> hooks("job")
>>> seen
['job', 'second']
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobListeners(Generic[T]):
    def __init__(self, *listeners: Callable[[T], None]) -> None:
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[T], None], ...] = listeners

    def add(self, listener: Callable[[T], None]) -> None:
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def __call__(self, item: T) -> None:
        for listener in self._listeners:  # a snapshot: add() replaces the tuple
            try:
                listener(item)
            except Exception:  # one broken listener must not break the job
                log.exception("job listener %r failed", listener)
