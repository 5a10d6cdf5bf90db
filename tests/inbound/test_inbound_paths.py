"""The gateway forwards the path as the client sent it: ``%2F``, ``%3F`` and
``%23`` decoded would change what the node is asked."""

from __future__ import annotations

from pathlib import Path

import httpx
from inbound_support import BlobNode, serving

from ollama_webmgr.sim.serve import serve_in_thread


def test_encoded_separators_reach_the_node_as_sent(tmp_path: Path) -> None:
    node_app = BlobNode()
    targets = [
        "/api/a%2Fb?x=1",
        "/api/what%3Fnot=1?real=2",
        "/api/x%23y",
        "/api/blobs/sha256%3A" + "0" * 64,
    ]
    with serve_in_thread(node_app) as node, serving(tmp_path, node.url) as served:
        base = f"http://127.0.0.1:{served.gateway}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for target in targets:
                client.head(target)
    relayed = [t for t in node_app.targets if not t.startswith("/api/version")]
    relayed = [t for t in relayed if t not in ("/api/tags", "/api/ps")]
    assert relayed == targets
