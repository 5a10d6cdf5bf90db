"""Typed views of the Ollama answers the product reads.

Every ``from_json`` ignores unknown keys (Ollama adds fields often) and accepts
missing optional ones (older servers lack ``capabilities``, ``context_length``...).
A wrong shape raises ``OllamaServerError`` with the offending field.

>>> tag = ModelTag.from_json({
...     "name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189,
...     "modified_at": "2026-08-20T09:41:12.123456789+02:00",
...     "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
...     "details": {"family": "llama", "families": None, "parameter_size": "3.2B"},
...     "brand_new_field": True})
>>> tag.short_id, tag.details.family, tag.details.families, tag.capabilities
('a80c4f17acd5', 'llama', (), ())
>>> PullProgress.from_json({"status": "pulling dde5aa3fc5ff",
...     "digest": "sha256:dde5aa3fc5ffc17176b5e8bdc82f587b24b2678c6c66101bf7da77af9f7ccdff",
...     "total": 2019377376, "completed": 504844344}).layer
'dde5aa3fc5ff'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ollama_webmgr.ollama.fields import (
    as_object,
    malformed,
    read_bool,
    read_int,
    read_list,
    read_mapping,
    read_optional_int,
    read_str,
    read_str_tuple,
    read_time,
    require,
    required_str,
)

T = TypeVar("T")


def _name(data: Mapping[str, Any]) -> str:
    # /api/tags and /api/ps send both; "model" is what the official client keeps
    name = read_str(data, "model") or read_str(data, "name")
    if not name:
        raise malformed("missing field 'model'")
    return name


@dataclass(frozen=True, slots=True)
class ModelDetails:
    format: str = ""
    family: str = ""
    families: tuple[str, ...] = ()
    parameter_size: str = ""
    quantization_level: str = ""
    parent_model: str = ""
    #: v0.30+ in /api/tags only
    context_length: int | None = None
    embedding_length: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelDetails:
        return cls(
            format=read_str(data, "format"),
            family=read_str(data, "family"),
            families=read_str_tuple(data, "families"),
            parameter_size=read_str(data, "parameter_size"),
            quantization_level=read_str(data, "quantization_level"),
            parent_model=read_str(data, "parent_model"),
            context_length=read_optional_int(data, "context_length"),
            embedding_length=read_optional_int(data, "embedding_length"),
        )


@dataclass(frozen=True, slots=True)
class ModelTag:
    """One entry of ``GET /api/tags``."""

    name: str
    model: str
    modified_at: datetime | None
    size: int
    digest: str
    details: ModelDetails
    capabilities: tuple[str, ...] = ()

    @property
    def short_id(self) -> str:
        """The 12-hex id ``ollama list`` shows."""
        return self.digest.removeprefix("sha256:")[:12]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelTag:
        name = _name(data)
        return cls(
            name=read_str(data, "name") or name,
            model=name,
            modified_at=read_time(data, "modified_at"),
            size=read_int(data, "size"),
            digest=read_str(data, "digest"),
            details=ModelDetails.from_json(read_mapping(data, "details")),
            capabilities=read_str_tuple(data, "capabilities"),
        )


@dataclass(frozen=True, slots=True)
class RunningModel:
    """One entry of ``GET /api/ps``."""

    name: str
    model: str
    size: int
    size_vram: int
    digest: str
    expires_at: datetime | None
    context_length: int | None
    details: ModelDetails

    @property
    def gpu_fraction(self) -> float:
        """Share of the model resident on GPU (1.0 = fully on GPU, 0.0 = CPU)."""
        return self.size_vram / self.size if self.size > 0 else 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunningModel:
        name = _name(data)
        return cls(
            name=read_str(data, "name") or name,
            model=name,
            size=read_int(data, "size"),
            size_vram=read_int(data, "size_vram"),
            digest=read_str(data, "digest"),
            expires_at=read_time(data, "expires_at"),
            context_length=read_optional_int(data, "context_length"),
            details=ModelDetails.from_json(read_mapping(data, "details")),
        )


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One line of a ``POST /api/pull`` stream.

    >>> PullProgress("pulling abc", total=200, completed=50).fraction
    0.25
    >>> PullProgress("verifying sha256 digest").fraction is None
    True
    """

    status: str
    digest: str = ""
    total: int = 0
    completed: int = 0

    @property
    def layer(self) -> str | None:
        """The 12-hex short id of the blob being pulled, if any."""
        hex_digest = self.digest.removeprefix("sha256:")
        return hex_digest[:12] if hex_digest else None

    @property
    def fraction(self) -> float | None:
        """Completed share of the current blob (0..1), when a total is known."""
        if self.total <= 0:
            return None
        return min(self.completed / self.total, 1.0)

    @property
    def is_success(self) -> bool:
        return self.status == "success"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PullProgress:
        return cls(
            status=required_str(data, "status"),
            digest=read_str(data, "digest"),
            total=read_int(data, "total"),
            completed=read_int(data, "completed"),
        )


@dataclass(frozen=True, slots=True)
class ShowInfo:
    """The answer of ``POST /api/show``."""

    details: ModelDetails
    model_info: Mapping[str, Any]
    capabilities: tuple[str, ...] = ()
    license: str = ""
    modelfile: str = ""
    parameters: str = ""
    template: str = ""
    system: str = ""
    modified_at: datetime | None = None

    @property
    def context_length(self) -> int | None:
        """The model's trained context length from ``model_info``, if present."""
        arch = self.model_info.get("general.architecture")
        value = self.model_info.get(f"{arch}.context_length") if arch else None
        return value if isinstance(value, int) else None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShowInfo:
        return cls(
            details=ModelDetails.from_json(read_mapping(data, "details")),
            model_info=read_mapping(data, "model_info"),
            capabilities=read_str_tuple(data, "capabilities"),
            license=read_str(data, "license"),
            modelfile=read_str(data, "modelfile"),
            parameters=read_str(data, "parameters"),
            template=read_str(data, "template"),
            system=read_str(data, "system"),
            modified_at=read_time(data, "modified_at"),
        )


@dataclass(frozen=True, slots=True)
class Metrics:
    """Timings of a finished generation; durations in nanoseconds, 0 when absent."""

    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed, when the server reported it.

        >>> Metrics(eval_count=50, eval_duration=2_000_000_000).tokens_per_second
        25.0
        """
        if self.eval_duration <= 0:
            return None
        return self.eval_count * 1e9 / self.eval_duration

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(
            total_duration=read_int(data, "total_duration"),
            load_duration=read_int(data, "load_duration"),
            prompt_eval_count=read_int(data, "prompt_eval_count"),
            prompt_eval_duration=read_int(data, "prompt_eval_duration"),
            eval_count=read_int(data, "eval_count"),
            eval_duration=read_int(data, "eval_duration"),
        )


@dataclass(frozen=True, slots=True)
class GenerateResult:
    """A ``POST /api/generate`` answer, or one chunk of its stream (``done`` false)."""

    model: str
    response: str
    done: bool
    done_reason: str = ""
    thinking: str = ""
    created_at: datetime | None = None
    metrics: Metrics = Metrics()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerateResult:
        return cls(
            model=read_str(data, "model"),
            response=read_str(data, "response"),
            done=read_bool(data, "done"),
            done_reason=read_str(data, "done_reason"),
            thinking=read_str(data, "thinking"),
            created_at=read_time(data, "created_at"),
            metrics=Metrics.from_json(data),
        )


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str = ""
    thinking: str = ""
    tool_calls: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.thinking:
            body["thinking"] = self.thinking
        if self.tool_calls:
            body["tool_calls"] = [dict(call) for call in self.tool_calls]
        return body

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatMessage:
        calls = read_list(data, "tool_calls")
        return cls(
            role=required_str(data, "role"),
            content=read_str(data, "content"),
            thinking=read_str(data, "thinking"),
            tool_calls=tuple(as_object(call, "a tool call") for call in calls),
        )


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A ``POST /api/chat`` answer, or one chunk of its stream (``done`` false)."""

    model: str
    message: ChatMessage
    done: bool
    done_reason: str = ""
    created_at: datetime | None = None
    metrics: Metrics = Metrics()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ChatResult:
        return cls(
            model=read_str(data, "model"),
            message=ChatMessage.from_json(as_object(data.get("message"), "'message'")),
            done=read_bool(data, "done"),
            done_reason=read_str(data, "done_reason"),
            created_at=read_time(data, "created_at"),
            metrics=Metrics.from_json(data),
        )


def parse_embeddings(data: Mapping[str, Any]) -> list[list[float]]:
    """The vectors of a ``POST /api/embed`` answer.

    >>> parse_embeddings({"model": "m", "embeddings": [[0.6, 0.8], [1, 0]]})
    [[0.6, 0.8], [1.0, 0.0]]
    """
    vectors = require(data, "embeddings")
    if not isinstance(vectors, list):
        raise malformed("'embeddings' should be a list of lists of numbers")
    result: list[list[float]] = []
    for vector in vectors:
        if not isinstance(vector, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in vector
        ):
            raise malformed("'embeddings' should be a list of lists of numbers")
        result.append([float(x) for x in vector])
    return result


def parse_version(data: Mapping[str, Any]) -> str:
    """The server version from ``GET /api/version``."""
    return required_str(data, "version")


def model_list(
    parse: Callable[[Mapping[str, Any]], T],
) -> Callable[[Mapping[str, Any]], list[T]]:
    """A parser for ``{"models": [...]}`` answers (tags, ps).

    >>> [t.model for t in model_list(ModelTag.from_json)({"models": [{"name": "a:b"}]})]
    ['a:b']
    >>> model_list(ModelTag.from_json)({"models": None})
    Traceback (most recent call last):
    ...
    ollama_webmgr.errors.OllamaServerError: malformed answer: missing field 'models'
    """

    def parse_all(data: Mapping[str, Any]) -> list[T]:
        entries = require(data, "models")
        if not isinstance(entries, list):
            raise malformed("'models' should be a list")
        return [parse(as_object(entry, "an entry of 'models'")) for entry in entries]

    return parse_all
