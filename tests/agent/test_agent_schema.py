"""The five JSON documents: what is accepted, what is refused, on both sides."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from agent_fixtures import captured_readers

from ollama_webmgr.agent.schema import (
    SystemInfo,
    decode_all,
    decode_cpu,
    decode_disk,
    decode_gpu,
    encode_all,
)
from ollama_webmgr.errors import AgentProtocolError


def _info() -> SystemInfo:
    return captured_readers().read(details=True)


def test_documents_survive_the_round_trip() -> None:
    info = _info()
    assert decode_all(**encode_all(info)) == info


def test_unknown_keys_from_a_newer_agent_are_ignored() -> None:
    documents = encode_all(_info())
    cpu = json.loads(documents["cpu"])
    cpu["microcode"] = "0xf8"
    assert decode_cpu(json.dumps(cpu)) == _info().cpu


def test_encoding_refuses_a_document_that_breaks_the_schema() -> None:
    bad = replace(_info(), cpu=replace(_info().cpu, usage_percent=150.0))
    with pytest.raises(
        AgentProtocolError, match=r"'usage_percent' must be within 0\.\.100"
    ):
        encode_all(bad)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cores_logical", "4", "'cores_logical' must be an integer, got str"),
        ("cores_logical", True, "'cores_logical' must be an integer, got bool"),
        ("cores_logical", -1, "'cores_logical' must not be negative"),
        ("model", None, "'model' must be a string, got null"),
        ("load_average", "1.0", "'load_average' must be a list, got str"),
        ("per_cpu_percent", [1.0, "x"], r"'per_cpu_percent'\[1\] must be a number"),
    ],
)
def test_decoding_names_the_field_that_is_wrong(
    field: str, value: object, message: str
) -> None:
    cpu = json.loads(encode_all(_info())["cpu"])
    cpu[field] = value
    with pytest.raises(AgentProtocolError, match=message):
        decode_cpu(json.dumps(cpu))


def test_decoding_refuses_a_missing_key_and_non_json() -> None:
    gpu = json.loads(encode_all(_info())["gpu"])
    del gpu["gpus"][0]["memory_total"]
    with pytest.raises(
        AgentProtocolError, match=r"'gpus'\[0\]: 'memory_total' is missing"
    ):
        decode_gpu(json.dumps(gpu))
    with pytest.raises(AgentProtocolError, match="disk document is not valid JSON"):
        decode_disk("{truncated")
    with pytest.raises(AgentProtocolError, match="expected an object, got list"):
        decode_disk("[]")


def test_gpu_source_and_vendor_are_closed_lists() -> None:
    gpu = json.loads(encode_all(_info())["gpu"])
    gpu["gpus"][0]["vendor"] = "intel"
    with pytest.raises(
        AgentProtocolError, match="'vendor' must be one of 'nvidia', 'amd'"
    ):
        decode_gpu(json.dumps(gpu))
