"""Run store work on a real OS thread when gevent serves the process.

A store write spends milliseconds in SQLAlchemy and SQLite (or libpq). Under
gevent, doing it in a greenlet stalls every request of the process meanwhile:
a second's worth of gateway records held the hub 10-20 ms. gevent's thread
pool runs it on an OS thread while the calling greenlet waits cooperatively.
Without monkey-patching (tests, RQ workers) the call is made in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from gevent import monkey

T = TypeVar("T")


def off_hub(function: Callable[..., T], *args: object, **kwargs: object) -> T:
    """``function(*args, **kwargs)``, on gevent's thread pool once ``threading``
    is patched."""
    if not monkey.is_module_patched("threading"):
        return function(*args, **kwargs)
    import gevent

    pool = gevent.get_hub().threadpool
    return pool.apply(function, args, kwargs)  # type: ignore[no-any-return]
