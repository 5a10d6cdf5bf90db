"""Fake inference: deterministic tokens and embeddings.

>>> tokens, reason = reply_tokens("Why is the sky blue?", None)
>>> tokens == reply_tokens("Why is the sky blue?", None)[0], reason
(True, 'stop')
>>> reply_tokens("Why is the sky blue?", 2)[1]
'length'
>>> vector = embedding("hello", 8)
>>> len(vector), round(sum(x * x for x in vector), 6)
(8, 1.0)
"""

from __future__ import annotations

import hashlib
import math
import struct

_WORDS = (
    "the model answers",
    "with a short",
    "deterministic reply",
    "about",
    "your question",
    "emulated",
    "by ollama-webmgr",
    "so tests",
    "stay fast",
    "and",
    "repeatable",
)


def _seed(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def reply_tokens(prompt: str, limit: int | None) -> tuple[list[str], str]:
    """The tokens answered to ``prompt`` and the done reason (``stop``/``length``)."""
    seed = _seed(prompt)
    count = 6 + seed[0] % 10
    tokens = [
        (" " if i else "") + _WORDS[seed[i % len(seed)] % len(_WORDS)]
        for i in range(count)
    ]
    tokens[-1] += "."
    if limit is not None and 0 <= limit < count:
        return tokens[:limit], "length"
    return tokens, "stop"


def count_tokens(text: str) -> int:
    """A rough token count (about four characters per token)."""
    return max(1, (len(text) + 3) // 4)


def raw_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unnormalised vector for ``text``."""
    values: list[float] = []
    block = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{block}:{text}".encode()).digest()
        for (number,) in struct.iter_unpack(">H", digest):
            values.append(round(number / 32768.0 - 1.0, 6))
        block += 1
    return values[:dimensions]


def normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def embedding(text: str, dimensions: int) -> list[float]:
    """L2-normalised vector, as ``/api/embed`` returns."""
    return normalise(raw_embedding(text, dimensions))
