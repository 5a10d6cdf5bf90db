"""gunicorn configuration for the web app and the gateway (gevent workers).

    gunicorn -c deploy/gunicorn.conf.py ollama_webmgr.wsgi:app
    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:11435 ollama_webmgr.wsgi:gateway

Environment (the systemd units and compose.yaml set these):

- ``GUNICORN_BIND``: address to listen on (default ``127.0.0.1:8000``); ``--bind``
  on the command line wins.
- ``WEB_CONCURRENCY``: number of workers. Default: two per core, between 2 and 4
  (``ollama_webmgr.deployment.default_workers``). A gevent worker serves hundreds
  of concurrent connections (SSE streams, NDJSON streams) on one core, so more
  workers than ~2 per core only add memory and connections to the store.
- ``REDIS_URL``: required as soon as there is more than one worker; the server
  refuses to start without it (``on_starting`` below).

Timeouts. With gevent workers, ``timeout`` is not a request timeout: it is the
heartbeat the master checks, and a worker is only killed when its event loop has
been blocked that long. Requests themselves have no time limit, so multi-hour
pulls and SSE streams that last as long as a job are never cut by gunicorn.
``graceful_timeout`` is how long a worker may finish its requests after
SIGHUP/SIGTERM before being killed; open SSE streams reconnect by themselves
(``Last-Event-ID``) and jobs run on RQ workers, so 30 s is enough.
``keepalive`` outlives the proxy's idle upstream connections (nginx keeps them
60 s), so gunicorn never closes one the proxy is about to reuse.

Reload without dropping connections: ``kill -HUP <master pid>`` (``systemctl
reload``) starts new workers with the new code and configuration, then stops the
old ones gracefully.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from ollama_webmgr.deployment import concurrency_problem, workers_from_env

bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
worker_class = "gevent"
workers = workers_from_env()
worker_connections = 1000
timeout = 120
graceful_timeout = 30
keepalive = 75
# Each worker builds its own services after the fork (store connections,
# connection pools and background threads must not be shared across a fork).
preload_app = False
# Access lines come from the application as JSON; gunicorn's own errors go to stderr.
accesslog = None
errorlog = "-"
# The reverse proxy on this machine sets X-Forwarded-*; trust it only.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "ollama-webmgr"
# gunicorn 27's control socket would be shared by the web and gateway servers
# of one user ($HOME/.gunicorn/gunicorn.ctl); signals are enough to manage them.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Refuse to start several workers without Redis (one clear line, exit 2)."""
    from ollama_webmgr.errors import SettingsError
    from ollama_webmgr.settings import Settings

    try:
        redis_url = Settings.from_env().redis_url
    except SettingsError as exc:
        _refuse(f"configuration error: {exc.message}")
    problem = concurrency_problem(server.cfg.workers, redis_url)
    if problem:
        _refuse(problem)


def post_worker_init(worker: Any) -> None:
    """Start what ``ollama-webmgr serve`` starts: health monitor, request
    recorder, scheduler, hardware polling, restored jobs (the app is loaded)."""
    import gc

    from ollama_webmgr.wsgi import start_background

    start_background()
    gc.freeze()  # as ``serving.wait_for_signal``: start-up objects stay put


def worker_exit(server: Any, worker: Any) -> None:
    """Flush the request records and close the store of the exiting worker."""
    from ollama_webmgr.wsgi import stop_background

    stop_background()


def _refuse(message: str) -> NoReturn:
    print(f"ollama-webmgr: {message}", file=sys.stderr, flush=True)
    sys.exit(2)
