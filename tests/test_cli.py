"""The command line: every subcommand documents itself; bad settings stop it cleanly."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from ollama_webmgr.commands import cli


def _command_paths(
    group: click.Group, prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


def test_help_lists_the_subcommands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("serve", "gateway", "worker", "sim", "db"):
        assert f"  {name}" in result.output


@pytest.mark.parametrize("path", _command_paths(cli), ids=" ".join)
def test_every_subcommand_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: ")


def test_invalid_setting_stops_with_one_line_naming_the_variable() -> None:
    env = {**os.environ, "WEBMGR_PORT": "huit-mille"}
    result = subprocess.run(
        [sys.executable, "-m", "ollama_webmgr", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ollama-webmgr: configuration error: WEBMGR_PORT: expected an integer,"
        " got 'huit-mille'"
    ]
