"""The shipped nginx site bounds request bodies as the apps do (and lets the
gateway's blob uploads through unbounded, streamed)."""

from __future__ import annotations

import re
from pathlib import Path

from ollama_webmgr.edge.security import MAX_BODY_BYTES
from ollama_webmgr.settings import Settings

SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ollama-webmgr.conf"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * _UNITS[unit]


def _blocks(text: str, opening: str) -> list[str]:
    """The bodies of the blocks opened by ``opening`` (braces balanced)."""
    found = []
    for match in re.finditer(r"^\s*" + re.escape(opening) + r"\s*\{", text, re.M):
        depth, at = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[at], 0)
            at += 1
        found.append(text[match.end() : at - 1])
    return found


def _body_size(block: str) -> int:
    # the block's own directive, not those of its nested locations
    own = re.sub(r"location[^{]*\{[^}]*\}", "", block)
    return _size(re.search(r"client_max_body_size\s+(\w+);", own).group(1))  # type: ignore[union-attr]


def test_nginx_bounds_bodies_as_each_port_does() -> None:
    text = SITE.read_text()
    servers = {
        re.search(r"listen (\d+)", s).group(1): s  # type: ignore[union-attr]
        for s in _blocks(text, "server")
        if "proxy_pass" in s
    }
    web, gateway = servers["443"], servers["11443"]
    assert _body_size(web) == MAX_BODY_BYTES
    assert _body_size(gateway) == Settings().max_body_size
    blobs = _blocks(gateway, "location /api/blobs/")
    assert len(blobs) == 1
    assert re.search(r"client_max_body_size\s+0;", blobs[0])
    assert "proxy_pass http://ollama_webmgr_gateway;" in blobs[0]
