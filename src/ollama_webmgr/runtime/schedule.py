"""Periodic work on one thread (a greenlet under gevent): the background of a
running process (``runtime/background.py``) and the gateway supervisor's."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAINTENANCE_EVERY = 3600.0
MAINTENANCE_FIRST = 60.0  # a process restarted often still applies retention
MODEL_MAP_EVERY = 300.0
CONFIG_SYNC_EVERY = 5.0  # settings edited elsewhere apply within this


@dataclass
class Periodic:
    """Call ``action`` every ``interval`` seconds; the first time after
    ``first_after`` seconds (default: one interval)."""

    name: str
    interval: float
    action: Callable[[], object]
    first_after: float | None = None
    due: float = field(default=0.0)


class Scheduler:
    """One thread (a greenlet under gevent) running ``Periodic`` tasks."""

    def __init__(
        self, tasks: list[Periodic], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.tasks = tasks
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def plan(self) -> None:
        """Set each task's first due time from now."""
        now = self._clock()
        for task in self.tasks:
            first = task.interval if task.first_after is None else task.first_after
            task.due = now + first

    def start(self) -> None:
        self.plan()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="webmgr-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def run_due(self) -> None:
        now = self._clock()
        for task in self.tasks:
            if now < task.due:
                continue
            task.due = now + task.interval
            try:
                task.action()
            except Exception:  # the loop must survive a failing task
                log.exception("periodic task %s failed", task.name)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            wait = min(t.due for t in self.tasks) - self._clock() if self.tasks else 60
            self._stop.wait(max(wait, 0.05))
