"""docs/agent.md documents every key of the five documents, and the agent is light."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ollama_webmgr.agent import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "agent.md"


@pytest.mark.parametrize(
    "cls",
    [
        schema.SystemDoc,
        schema.CpuDoc,
        schema.MemoryDoc,
        schema.DiskDoc,
        schema.Volume,
        schema.GpuDoc,
        schema.Gpu,
    ],
)
def test_every_document_key_is_documented(cls: type) -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(), re.MULTILINE))
    keys = {f.name for f in dataclasses.fields(cls)}
    assert keys <= documented, f"undocumented: {sorted(keys - documented)}"


def test_agent_needs_neither_flask_nor_sqlalchemy() -> None:
    code = (
        "import sys, ollama_webmgr.agent.server, ollama_webmgr.agent.client;"
        "import ollama_webmgr.agent.model_port;"
        "heavy = {'flask', 'sqlalchemy', 'httpx', 'redis'} & set(sys.modules);"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
