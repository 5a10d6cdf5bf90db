"""The command line: every subcommand documents itself; bad settings stop it cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
    assert result.output.startswith("Utilisation : ")


#: words that betray English in what the command line prints
ENGLISH = re.compile(
    r"\b(Usage|Show|Options:|Commands|default|required|TEXT|INTEGER|DIRECTORY|FILE"
    r"|the|and|of|to|for|with|Run|Bind|Error|Missing|Invalid|expected|not)\b"
)


@pytest.mark.parametrize("path", _command_paths(cli), ids=" ".join)
def test_every_help_is_french(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=200)
    # command names, options and variables stay as they are typed
    text = re.sub(r"--[a-z-]+|\b[A-Z]+_[A-Z_]+\b|[a-z]+://\S*", " ", result.output)
    assert ENGLISH.findall(text) == [], result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["serve", "--bogus"], "Erreur : Option inconnue : '--bogus'."),
        (["sim", "--port", "abc"], "'abc' n’est pas un entier valide."),
        (["sim", "--bandwidth", "vite"], "débit invalide « vite »"),
        (["db"], "Commandes :"),
        (["nope"], "Erreur : Sous-commande inconnue : 'nope'."),
        (["db", "migrate", "--to", "sqlite:///x.db"], "Option manquante '--from'."),
    ],
)
def test_mistakes_are_explained_in_french(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert expected in result.output
    assert "Try '" not in result.output
    assert "Usage:" not in result.output


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
        "ollama-webmgr : erreur de configuration : WEBMGR_PORT : un entier attendu,"
        " reçu « huit-mille »"
    ]


def test_migrating_from_a_missing_file_is_refused_and_creates_nothing(
    tmp_path: Path,
) -> None:
    """The real command line, as a person types it with a typo in the source."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ollama_webmgr",
            "db",
            "migrate",
            "--from",
            "sqlite:///ancienne.sqlite3",
            "--to",
            f"sqlite:///{tmp_path / 'nouvelle.sqlite3'}",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"Erreur : aucune base à l’emplacement {tmp_path / 'ancienne.sqlite3'} :"
        " vérifiez le chemin ; rien n’a été créé ni copié."
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []
