"""Parsing of Ollama answers: tolerant of new/missing fields, strict on wrong shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ollama_webmgr.errors import OllamaServerError
from ollama_webmgr.ollama.payloads import (
    ChatResult,
    GenerateResult,
    ModelTag,
    PullProgress,
    RunningModel,
    ShowInfo,
    model_list,
    parse_embeddings,
)
from ollama_webmgr.ollama.timestamps import parse_timestamp

DIGEST = "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"

# An /api/tags entry as a v0.33 server writes it, plus a field no server has yet.
TAG_V033 = {
    "name": "llama3.2:latest",
    "model": "llama3.2:latest",
    "modified_at": "2026-08-20T09:41:12.987654321-07:00",
    "size": 2019393189,
    "digest": DIGEST,
    "details": {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
        "context_length": 131072,
        "embedding_length": 3072,
        "future_detail": {"x": 1},
    },
    "capabilities": ["completion", "tools"],
    "added_in_v9": [1, 2, 3],
}

# The same entry from a pre-v0.30 server: no capabilities, no context lengths.
TAG_OLD = {
    "name": "qwen2.5:7b",
    "model": "qwen2.5:7b",
    "modified_at": "2025-01-02T03:04:05.1+00:00",
    "size": 4683087332,
    "digest": DIGEST,
    "details": {"format": "gguf", "family": "qwen2", "families": None},
}


def test_tag_keeps_known_fields_and_ignores_unknown_ones() -> None:
    tag = ModelTag.from_json(TAG_V033)

    assert tag.name == tag.model == "llama3.2:latest"
    assert tag.size == 2019393189
    assert tag.short_id == "a80c4f17acd5"
    assert tag.details.context_length == 131072
    assert tag.details.embedding_length == 3072
    assert tag.details.families == ("llama",)
    assert tag.capabilities == ("completion", "tools")
    assert tag.modified_at == datetime(
        2026, 8, 20, 9, 41, 12, 987654, tzinfo=timezone(timedelta(hours=-7))
    )


def test_tag_from_an_older_server_has_empty_capabilities_and_no_context() -> None:
    tag = ModelTag.from_json(TAG_OLD)

    assert tag.capabilities == ()
    assert tag.details.context_length is None
    assert tag.details.families == ()
    assert tag.details.quantization_level == ""
    assert tag.modified_at == datetime(2025, 1, 2, 3, 4, 5, 100000, tzinfo=UTC)


def test_tag_without_name_uses_model_and_vice_versa() -> None:
    only_model = ModelTag.from_json({"model": "a:b"})
    only_name = ModelTag.from_json({"name": "c:d"})

    assert (only_model.name, only_model.model) == ("a:b", "a:b")
    assert (only_name.name, only_name.model) == ("c:d", "c:d")
    assert only_model.modified_at is None
    assert only_model.details.format == ""


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, "missing field 'model'"),
        ({**TAG_OLD, "size": "4.7 GB"}, "'size' should be an integer"),
        ({**TAG_OLD, "size": True}, "'size' should be an integer"),
        (
            {**TAG_OLD, "modified_at": "yesterday"},
            "'modified_at' should be an RFC 3339",
        ),
        ({**TAG_OLD, "details": []}, "'details' should be an object"),
        ({**TAG_OLD, "capabilities": "tools"}, "'capabilities' should be a list"),
    ],
)
def test_malformed_tag_raises_server_error_naming_the_field(
    entry: dict[str, object], message: str
) -> None:
    with pytest.raises(OllamaServerError, match=message):
        ModelTag.from_json(entry)


def test_model_list_rejects_a_missing_or_wrong_models_field() -> None:
    parse = model_list(ModelTag.from_json)

    assert parse({"models": []}) == []
    with pytest.raises(OllamaServerError, match="missing field 'models'"):
        parse({})
    with pytest.raises(OllamaServerError, match="'models' should be a list"):
        parse({"models": {"a": 1}})
    with pytest.raises(OllamaServerError, match="entry of 'models'"):
        parse({"models": ["llama3.2"]})


def test_running_model_with_forever_keep_alive_and_partial_gpu() -> None:
    running = RunningModel.from_json(
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "size": 4000,
            "digest": DIGEST,
            "details": {"family": "llama"},
            "expires_at": "2318-03-09T11:22:33.123456789+01:00",
            "size_vram": 1000,
            "context_length": 4096,
        }
    )

    assert running.expires_at is not None
    assert running.expires_at.year == 2318
    assert running.gpu_fraction == 0.25
    assert running.context_length == 4096


def test_running_model_from_an_old_server_lacks_context_length() -> None:
    running = RunningModel.from_json({"name": "x:latest", "size": 0})

    assert running.context_length is None
    assert running.size_vram == 0
    assert running.gpu_fraction == 0.0


def test_pull_progress_helpers() -> None:
    layer = PullProgress.from_json(
        {"status": "pulling dde5aa3fc5ff", "digest": f"sha256:{DIGEST}", "total": 10}
    )
    done = PullProgress.from_json({"status": "success"})

    assert layer.layer == "a80c4f17acd5"
    assert layer.completed == 0  # omitted by Ollama while 0
    assert layer.fraction == 0.0
    assert done.layer is None
    assert done.fraction is None
    assert done.is_success
    with pytest.raises(OllamaServerError, match="missing field 'status'"):
        PullProgress.from_json({"digest": "sha256:x"})


def test_show_info_reads_model_info_and_tolerates_a_minimal_answer() -> None:
    info = ShowInfo.from_json(
        {
            "license": "MIT",
            "modelfile": '# Modelfile generated by "ollama show"\nFROM x',
            "parameters": 'stop                           "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": {"family": "llama", "parameter_size": "3.2B"},
            "model_info": {
                "general.architecture": "llama",
                "llama.context_length": 8192,
            },
            "capabilities": ["completion"],
            "modified_at": "2026-08-20T09:41:12.5+02:00",
            "tensors": [{"name": "t", "type": "Q4_K", "shape": [1, 2]}],
        }
    )
    minimal = ShowInfo.from_json({"model_info": {}})

    assert info.context_length == 8192
    assert info.details.family == "llama"
    assert info.capabilities == ("completion",)
    assert minimal.context_length is None
    assert minimal.license == ""
    assert minimal.modified_at is None


def test_generate_final_chunk_carries_metrics_in_nanoseconds() -> None:
    result = GenerateResult.from_json(
        {
            "model": "llama3.2",
            "created_at": "2026-08-21T10:00:00.123456789Z",
            "response": "",
            "done": True,
            "done_reason": "stop",
            "context": [1, 2, 3],
            "total_duration": 5_000_000_000,
            "eval_count": 100,
            "eval_duration": 4_000_000_000,
        }
    )

    assert result.done
    assert result.done_reason == "stop"
    assert result.metrics.total_duration == 5_000_000_000
    assert result.metrics.load_duration == 0  # omitted when zero
    assert result.metrics.tokens_per_second == 25.0
    assert result.created_at == datetime(2026, 8, 21, 10, 0, 0, 123456, tzinfo=UTC)


def test_chat_chunk_requires_a_message_with_a_role() -> None:
    chunk = ChatResult.from_json(
        {
            "model": "m",
            "message": {"role": "assistant", "content": "Bon", "images": None},
            "done": False,
        }
    )

    assert chunk.message.content == "Bon"
    assert not chunk.done
    with pytest.raises(OllamaServerError, match="'message'"):
        ChatResult.from_json({"model": "m", "done": True})
    with pytest.raises(OllamaServerError, match="missing field 'role'"):
        ChatResult.from_json({"model": "m", "message": {"content": "x"}})


def test_embeddings_are_floats_and_bad_vectors_are_rejected() -> None:
    assert parse_embeddings({"embeddings": []}) == []
    assert parse_embeddings({"embeddings": [[1, 0.5]]}) == [[1.0, 0.5]]
    with pytest.raises(OllamaServerError, match="missing field 'embeddings'"):
        parse_embeddings({"embedding": [0.1]})
    with pytest.raises(OllamaServerError, match="lists of numbers"):
        parse_embeddings({"embeddings": [["0.1"]]})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2026-08-21T10:15:30.123456789Z",
            datetime(2026, 8, 21, 10, 15, 30, 123456, tzinfo=UTC),
        ),
        (
            "2026-08-21T10:15:30.000000001+05:30",
            datetime(2026, 8, 21, 10, 15, 30, tzinfo=timezone(timedelta(hours=5.5))),
        ),
        ("2026-08-21T10:15:30Z", datetime(2026, 8, 21, 10, 15, 30, tzinfo=UTC)),
        (
            "2026-08-21t10:15:30.1z",
            datetime(2026, 8, 21, 10, 15, 30, 100000, tzinfo=UTC),
        ),
    ],
)
def test_nine_digit_fractions_and_offsets_parse(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)

    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "2026-08-21T10:15:30.1234567891Z",  # ten digits
        "2026-08-21T10:15:30+25:00",
        "2026-08-21",
        "",
        "10000-01-01T00:00:00Z",
    ],
)
def test_invalid_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"RFC 3339|offset"):
        parse_timestamp(text)
