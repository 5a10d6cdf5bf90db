"""A worker for tests/test_prefork.py: the real ``SupervisorLink``, no server.

``python prefork_fake_worker.py MODE CHANNEL_FD``. ``serve``: one record
``/hello/<pid>``, then READY; on SIGTERM one record ``/bye/<pid>`` and exit 0.
``fail``: exit 3 before READY.
"""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.event import Event  # noqa: E402

from ollama_webmgr.gateway.stats import RequestRecord  # noqa: E402
from ollama_webmgr.worker_link import SupervisorLink  # noqa: E402


def record(path: str) -> RequestRecord:
    return RequestRecord(
        time.time(), "GET", path, "other", None, None, 200, 1.0,
        None, None, None, 0, 0, 1, None,
    )  # fmt: skip


def main(mode: str, fd: int) -> None:
    if mode == "fail":
        sys.exit(3)
    link = SupervisorLink(fd)
    stop = Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    link.send_records([record(f"/hello/{os.getpid()}")])
    link.ready()
    link.stop_when_lost()
    stop.wait()
    link.send_records([record(f"/bye/{os.getpid()}")])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
