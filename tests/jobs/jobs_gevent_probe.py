"""Run by test_jobs_gevent.py in a fresh interpreter: the job machinery under gevent.

Prints one JSON line: the SSE event kinds seen, the keep-alives, and how many
ticks a bystander greenlet got meanwhile (zero would mean the hub was blocked).
Everything happens under ``__main__`` so that collecting this file (doctests)
never patches the test process.
"""

from __future__ import annotations

from typing import Any


def probe(bus: Any) -> dict[str, Any]:
    import time

    import gevent

    from ollama_webmgr.api.sse import KEEP_ALIVE, progress_stream
    from ollama_webmgr.jobs.runner import ThreadRunner

    def slow(params: dict[str, Any], ctx: Any) -> str:
        for n in range(3):
            # Silences of 6 heartbeats: keep-alives are due even on a busy machine.
            time.sleep(0.3)
            ctx.report("status", {"status": f"step {n}"})
        return "ok"

    runner = ThreadRunner({"slow": slow}, bus)
    ticks = [0]

    def bystander() -> None:
        while True:
            ticks[0] += 1
            gevent.sleep(0.01)

    watcher = gevent.spawn(bystander)
    job = runner.submit("slow", {})
    chunks = list(progress_stream(runner, bus, job.id, None, heartbeat=0.05))
    watcher.kill()
    runner.shutdown()
    return {
        "kinds": [c.split("\n")[0] for c in chunks if c != KEEP_ALIVE],
        "keepalives": chunks.count(KEEP_ALIVE),
        "ticks": ticks[0],
    }


def main(with_redis: bool) -> dict[str, Any]:
    import uuid

    from ollama_webmgr.jobs.bus import MemoryBus

    result = {"memory": probe(MemoryBus())}
    if with_redis:
        import redis

        from ollama_webmgr.jobs.redis_bus import RedisBus

        conn = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        prefix = f"test-webmgr-gevent-{uuid.uuid4().hex[:8]}"
        try:
            result["redis"] = probe(RedisBus(conn, prefix=prefix))
        finally:
            keys = list(conn.scan_iter(match=f"{prefix}*"))
            if keys:
                conn.delete(*keys)
    return result


if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

    import json
    import sys

    print(json.dumps(main("--redis" in sys.argv)))
