"""Run by test_agent_gevent.py in a fresh interpreter: agent + collector in one
gevent-patched process, as ``serve`` runs them.

Prints one JSON line: samples written while the agent was up, the outcome once
it is down and how long that took. Everything happens under ``__main__`` so that
collecting this file (doctests) never patches the test process.
"""

from __future__ import annotations

import sys
from typing import Any


def probe(store_path: str) -> dict[str, Any]:
    import time

    from ollama_webmgr.cluster.hardware import (
        HardwareCollector,
        grpc_client_factory,
        set_agent_address,
    )

    factory = grpc_client_factory(timeout=2.0)  # switches gRPC to gevent first

    from ollama_webmgr.agent.server import create_server
    from ollama_webmgr.store import open_database

    node = "http://node:11434"
    server, port = create_server("127.0.0.1", 0, models_dir="/")
    db = open_database(f"sqlite:///{store_path}")
    set_agent_address(db, node, f"127.0.0.1:{port}")
    collector = HardwareCollector(db, factory, interval=0.1)
    collector.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(db.query_series([node], "cpu_percent", 0, 2e10, "raw")) >= 2:
            break
        time.sleep(0.05)
    collector.stop()
    samples = len(db.query_series([node], "cpu_percent", 0, 2e10, "raw"))
    server.stop(None).wait()
    started = time.monotonic()
    (result,) = collector.run_once()
    db.close()
    return {
        "samples": samples,
        "error": result.error,
        "seconds": time.monotonic() - started,
    }


if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()
    import json

    print(json.dumps(probe(sys.argv[1])))
