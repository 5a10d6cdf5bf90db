"""Request ``options`` checked as Ollama's ``Options.FromMap`` does.

Unknown keys are skipped (Ollama logs a warning), a ``null`` value is skipped
(LangChain's ``OllamaEmbeddings`` sends thirteen of them on every call), and a
value of the wrong JSON type is an error the handler answers with a 500.

>>> check_options({"num_ctx": None, "mirostat": None, "tfs_z": 1, "top_k": 40.0})
{'top_k': 40.0}
>>> check_options({"num_ctx": "big"})
Traceback (most recent call last):
...
ollama_webmgr.sim.wire.BadRequest: option "num_ctx" must be of type integer
>>> check_options({"stop": ["a", 1]})
Traceback (most recent call last):
...
ollama_webmgr.sim.wire.BadRequest: option "stop" must be of an array of strings
"""

from __future__ import annotations

import json
from typing import Any

from ollama_webmgr.sim.wire import BadRequest

# JSON name -> Go kind of the field in api.Options (api.Runner embedded).
_KINDS = {
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "int",  # *int
    "use_mmap": "bool",  # *bool
    "num_thread": "int",
    "draft_num_predict": "int",
    "num_keep": "int",
    "seed": "int",
    "num_predict": "int",
    "top_k": "int",
    "top_p": "float32",
    "min_p": "float32",
    "typical_p": "float32",
    "repeat_last_n": "int",
    "temperature": "float32",
    "repeat_penalty": "float32",
    "presence_penalty": "float32",
    "frequency_penalty": "float32",
    "stop": "array",
}
_NAMES = {"int": "integer", "bool": "boolean", "float32": "float32", "array": "array"}


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fits(kind: str, value: object) -> bool:
    if kind in ("int", "float32"):
        return _number(value)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, list)


def check_options(options: object) -> dict[str, Any]:
    """The options Ollama keeps (known keys, non-null values); BadRequest(500)."""
    if not isinstance(options, dict):
        return {}
    kept: dict[str, Any] = {}
    for key, value in options.items():
        kind = _KINDS.get(key)
        if kind is None or value is None:
            continue
        quoted = json.dumps(key, ensure_ascii=False)
        if not _fits(kind, value):
            raise BadRequest(f"option {quoted} must be of type {_NAMES[kind]}", 500)
        if kind == "array" and not all(isinstance(item, str) for item in value):
            raise BadRequest(f"option {quoted} must be of an array of strings", 500)
        kept[key] = value
    return kept
