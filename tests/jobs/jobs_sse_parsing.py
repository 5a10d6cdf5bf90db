"""A tiny SSE reader for the tests (the browser's parsing rules, simplified)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Received:
    event: str
    id: str | None
    data: str
    comment: bool = False
    retry: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse(chunks: Iterable[str]) -> list[Received]:
    out = []
    for block in "".join(chunks).split("\n\n"):
        if not block:
            continue
        if block.startswith(":"):
            out.append(Received("", None, block[1:].strip(), comment=True))
            continue
        fields: dict[str, list[str]] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name, []).append(value)
        out.append(
            Received(
                fields.get("event", ["message"])[0],
                fields.get("id", [None])[0],
                "\n".join(fields.get("data", [])),
                retry=fields.get("retry", [None])[0],
            )
        )
    return out
