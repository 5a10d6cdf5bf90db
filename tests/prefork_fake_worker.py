"""A worker for tests/test_prefork.py: the real ``SupervisorLink``, no server.

``python prefork_fake_worker.py MODE CHANNEL_FD``. ``serve``: one record
``/hello/<pid>``, then READY; on SIGTERM one record ``/bye/<pid>`` and exit 0.
``fail``: exit 3 before READY. Everything happens under ``__main__``, so that
collecting this file (doctests) never patches the test process.
"""

from __future__ import annotations

import sys


def main(mode: str, fd: int) -> None:
    from gevent import monkey

    monkey.patch_all()

    import os
    import signal
    import time

    import gevent
    from gevent.event import Event

    from ollama_webmgr.gateway.stats import RequestRecord
    from ollama_webmgr.worker_link import SupervisorLink

    def record(path: str) -> RequestRecord:
        return RequestRecord(
            time.time(), "GET", path, "other", None, None, 200, 1.0,
            None, None, None, 0, 0, 1, None,
        )  # fmt: skip

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
