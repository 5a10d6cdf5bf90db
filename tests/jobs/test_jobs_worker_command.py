"""``ollama-webmgr worker`` refuses to start without Redis, with one clear line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from ollama_webmgr.commands import cli


def test_worker_without_redis_url_explains_and_exits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file around
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 2
    assert "REDIS_URL n’est pas défini" in result.output
