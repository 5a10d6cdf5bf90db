"""A worker for tests/test_prefork.py: the real ``SupervisorLink``, no server.

``python prefork_fake_worker.py MODE CHANNEL_FD [SECONDS]``. ``serve``: one
record ``/hello/<pid>``, then READY; on SIGTERM, SECONDS (0.3) of "finishing
requests" with the default SIGTERM action back, one record ``/bye/<pid>`` and
exit 0.
``fail``: exit 3 before READY. Everything happens under ``__main__``, so that
collecting this file (doctests) never patches the test process.
"""

from __future__ import annotations

import sys


def main(mode: str, fd: int, finishing: float) -> None:
    from gevent import monkey

    monkey.patch_all()

    import os
    import signal
    import time

    import gevent
    from gevent.event import Event

    from ollama_webmgr.gateway.stats import RequestRecord
    from ollama_webmgr.runtime.worker_link import SupervisorLink

    def record(path: str) -> RequestRecord:
        return RequestRecord(
            time.time(), "GET", path, "other", None, None, 200, 1.0,
            None, None, None, 0, 0, 1, None,
        )  # fmt: skip

    if mode == "fail":
        sys.exit(3)
    link = SupervisorLink(fd)
    stop = Event()
    handler = gevent.signal_handler(signal.SIGTERM, stop.set)
    link.send_records([record(f"/hello/{os.getpid()}")])
    link.ready()
    link.stop_when_lost()
    stop.wait()
    # as ``serving.wait_for_signal``: the handler goes, then requests finish
    handler.cancel()
    gevent.sleep(finishing)
    link.send_records([record(f"/bye/{os.getpid()}")])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float((sys.argv[3:] or ["0.3"])[0]))
