"""Store writes on one OS thread of their own when gevent serves the process.

A store write spends milliseconds in SQLAlchemy and SQLite (or libpq). Under
gevent, doing it in a greenlet stalls every request of the process meanwhile:
a second's worth of gateway records held the hub 10-20 ms. ``off_hub`` runs it
on a single writer thread while the calling greenlet waits cooperatively.

The writer uses its own store handle (``DatabaseManager.thread_handle``): the
handle's locks are greenlet locks, and an OS thread sharing them with the hub
waits far longer than either alone (TinyDB's even hung). So the function gets
only the handle and plain data: whatever needs the registry or other shared
objects is read before the call. Without monkey-patching (tests, RQ workers),
or with a store that has one handle per process (TinyDB), the call is made in
place.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from gevent import monkey

if TYPE_CHECKING:
    from gevent.threadpool import ThreadPool

    from ollama_webmgr.store.database import DatabaseManager

T = TypeVar("T")
SWITCH_INTERVAL = 0.001  # seconds
_writer: ThreadPool | None = None


def off_hub(
    db: DatabaseManager, function: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """``function(db, *args, **kwargs)``, on the writer thread when it can be."""
    if not db.separate_handles or not monkey.is_module_patched("threading"):
        return function(db, *args, **kwargs)

    def run() -> T:
        return function(db.thread_handle(), *args, **kwargs)

    return _writer_thread().apply(run)  # type: ignore[no-any-return]


def _writer_thread() -> ThreadPool:
    global _writer  # one per process, started on first use
    if _writer is None:
        from gevent.threadpool import ThreadPool

        # The hub and the writer take turns on the GIL: by default a thread
        # waits up to 5 ms for it, each time (a request, or a write between
        # two SQLite calls). At 1 ms, a hub kept busy by 20 reading greenlets
        # let the writer through ten times as often (measured); both progress.
        sys.setswitchinterval(SWITCH_INTERVAL)
        _writer = ThreadPool(1)
    return _writer
