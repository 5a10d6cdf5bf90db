"""Ollama model names: parsing, defaults, display form and comparison.

A full name is ``host/namespace/model:tag``; missing parts take Ollama's defaults.

>>> name = ModelName.parse("llama3.2")
>>> name
ModelName(host='registry.ollama.ai', namespace='library', model='llama3.2', tag='latest')
>>> name.display
'llama3.2:latest'
>>> ModelName.parse("user/model").display
'user/model:latest'
>>> ModelName.parse("hf.co/bartowski/Qwen-GGUF:Q4_K_M").display
'hf.co/bartowski/Qwen-GGUF:Q4_K_M'
>>> ModelName.parse("localhost:5000/team/m:v1").host
'localhost:5000'
>>> ModelName.parse("https://registry.ollama.ai/library/qwen2.5:7b").display
'qwen2.5:7b'

Comparison ignores case and fills defaults, as Ollama's lookups do:

>>> same_model("Llama3.2", "registry.ollama.ai/library/llama3.2:latest")
True
>>> same_model("llama3.2:1b", "llama3.2:3b")
False

Invalid names raise ``InvalidModelName``:

>>> ModelName.parse("model:")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidModelName: invalid model name 'model:'
>>> is_valid_name("a//b"), is_valid_name("bad name"), is_valid_name("m@sha256:x")
(False, False, False)
>>> is_valid_name("ns.with.dot/model")
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ollama_webmgr.errors import InvalidModelName

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_HOST = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,79}$")
_MODEL_OR_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")


@dataclass(frozen=True, slots=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, raw: str) -> ModelName:
        """Parse ``raw`` with Ollama's rules, or raise InvalidModelName."""
        parsed = _split(raw)
        if parsed is None:
            raise InvalidModelName(f"invalid model name {raw!r}")
        return parsed

    @property
    def display(self) -> str:
        """The shortest form Ollama shows (``/api/tags``, ``/api/ps``): tag always kept."""
        if self.host.lower() != DEFAULT_HOST:
            return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"
        if self.namespace.lower() != DEFAULT_NAMESPACE:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.model}:{self.tag}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Case-folded identity used to compare names."""
        return (
            self.host.casefold(),
            self.namespace.casefold(),
            self.model.casefold(),
            self.tag.casefold(),
        )

    @property
    def repository(self) -> str:
        """``namespace/model``: the path of the model on its registry."""
        return f"{self.namespace}/{self.model}"


def _split(raw: str) -> ModelName | None:
    text = raw
    if "://" in text:
        text = text.split("://", 1)[1]
    if not text or "@" in text:
        return None
    tag = DEFAULT_TAG
    colon, slash = text.rfind(":"), text.rfind("/")
    if colon > slash:
        text, tag = text[:colon], text[colon + 1 :]
    parts = text.split("/")
    if len(parts) > 3:
        host = "/".join(parts[:-2])  # a host cannot hold '/': rejected below
        parts = [host, *parts[-2:]]
    host, namespace = DEFAULT_HOST, DEFAULT_NAMESPACE
    if len(parts) == 3:
        host, namespace, model = parts
    elif len(parts) == 2:
        namespace, model = parts
    else:
        (model,) = parts
    if not (
        _HOST.match(host)
        and _NAMESPACE.match(namespace)
        and _MODEL_OR_TAG.match(model)
        and _MODEL_OR_TAG.match(tag)
    ):
        return None
    return ModelName(host, namespace, model, tag)


def is_valid_name(raw: str) -> bool:
    """True when Ollama would accept ``raw`` as a model name."""
    return _split(raw) is not None


def same_model(a: str, b: str) -> bool:
    """True when both names designate the same model (case-insensitive, defaults filled)."""
    first, second = _split(a), _split(b)
    return first is not None and second is not None and first.key == second.key


def display_name(raw: str) -> str:
    """Display form of a valid name; raises InvalidModelName otherwise.

    >>> display_name("qwen2.5")
    'qwen2.5:latest'
    """
    return ModelName.parse(raw).display
