"""Start-up checks for production serving (several worker processes).

Several processes serving the web app cannot share in-memory job records,
progress streams or gateway counters: each would see only its own. With more
than one worker, ``REDIS_URL`` is therefore required, and the server refuses to
start without it rather than behave wrongly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: the number of worker processes of ``serve`` and ``gateway`` (as gunicorn's)
WORKERS_ENV = "WEB_CONCURRENCY"


def workers_from_env(environ: Mapping[str, str] | None = None) -> int:
    """``WEB_CONCURRENCY`` when set, else 1 (``--workers`` on the command line wins).

    >>> workers_from_env({"WEB_CONCURRENCY": " 3 "}), workers_from_env({})
    (3, 1)
    """
    source = os.environ if environ is None else environ
    text = source.get(WORKERS_ENV, "").strip()
    if not text:
        return 1
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"{WORKERS_ENV}: expected a positive integer, got {text!r}")
    return count


def concurrency_problem(processes: int, redis_url: str | None) -> str | None:
    """The one-line reason not to start, or None when the setup is consistent.

    >>> concurrency_problem(1, None) is None
    True
    >>> concurrency_problem(4, "redis://127.0.0.1:6379/0") is None
    True
    >>> print(concurrency_problem(2, None))  # doctest: +ELLIPSIS
    REDIS_URL est obligatoire avec plus d’un worker (2 demandés) : ...
    """
    if processes <= 1 or redis_url:
        return None
    return (
        f"REDIS_URL est obligatoire avec plus d’un worker ({processes} demandés) :"
        " tâches, progression et limites de la passerelle se partagent par Redis."
        " Définissez REDIS_URL ou lancez un seul worker (WEB_CONCURRENCY=1)."
    )


def gateway_keeps_history(redis_url: str | None) -> bool:
    """Whether ``ollama-webmgr gateway`` writes the health history, the model
    map and the store's upkeep: alone (no Redis) it holds the chores, as any
    process does (``manager/duty.py``); with Redis it leaves them to the web
    processes. Its workers report their probes to the supervisor, which writes.

    >>> gateway_keeps_history(None), gateway_keeps_history("redis://r:6379/0")
    (True, False)
    """
    return not redis_url
