"""Static checks of the files in deploy/ that cannot run here (no image builds,
no systemd, no Traefik): they parse, agree with each other and with the code."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_support import DEPLOY, ROOT, VENV, unit_command
from dotenv import dotenv_values

from ollama_webmgr.commands import cli
from ollama_webmgr.runtime.deployment import concurrency_problem, workers_from_env
from ollama_webmgr.settings import Settings

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))


def _yaml(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}``."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if name in env:
            return env[name]
        assert op != ":?", f"compose requires {name}: {arg}"
        return arg or ""

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", one, value)


# --- compose ------------------------------------------------------------------


def test_compose_runs_the_five_services_with_healthchecks() -> None:
    services = _yaml("compose.yaml")["services"]
    assert set(services) == {"web", "gateway", "worker", "redis", "postgres"}
    for name, service in services.items():
        assert "healthcheck" in service, name
    # the commands of the systemd units, listening on the container's interfaces
    for name, unit in (
        ("web", "ollama-webmgr-web"),
        ("gateway", "ollama-webmgr-gateway"),
    ):
        shipped = ["ollama-webmgr", *unit_command(unit)[1:]]
        shipped[shipped.index("--host") + 1] = "0.0.0.0"
        assert services[name]["command"] == shipped
        port = shipped[shipped.index("--port") + 1]
        assert services[name]["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert services[name]["init"] is True  # signals reach the supervisor
    assert services["worker"]["command"] == ["ollama-webmgr", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_compose_environment_is_valid_settings_with_redis() -> None:
    services = _yaml("compose.yaml")["services"]
    secrets = {"POSTGRES_PASSWORD": "pw", "SECRET_KEY": "k", "ADMIN_PASSWORD": "a"}
    pg_env = services["postgres"]["environment"]
    for name in ("web", "gateway", "worker"):
        env = {
            k: _interpolate(str(v), secrets)
            for k, v in services[name]["environment"].items()
        }
        settings = Settings.from_env(env, env_file=None)
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.store_url == (
            f"postgresql+psycopg://{pg_env['POSTGRES_USER']}:pw@postgres:5432/"
            f"{pg_env['POSTGRES_DB']}"
        )
        assert concurrency_problem(workers_from_env(env), settings.redis_url) is None
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    with pytest.raises(AssertionError, match="SECRET_KEY"):
        _interpolate(services["web"]["environment"]["SECRET_KEY"], {})


# --- Dockerfile -----------------------------------------------------------------


def _dockerfile() -> list[list[str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


def test_dockerfile_builds_assets_then_python_from_existing_files() -> None:
    instructions = _dockerfile()
    bases = [words[1] for words in instructions if words[0] == "FROM"]
    assert bases[-1] == "python:3.11-slim"
    assert bases[0].startswith("node:")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    copied = []
    for words in instructions:
        if words[0] == "COPY" and not words[1].startswith("--from"):
            for source in words[1:-1]:
                assert (ROOT / source).exists(), source
                assert source not in ignored, source
                copied.append(source)
    assert {"requirements.txt", "pyproject.toml", "src"} <= set(copied)
    # the node stage writes where the package data of pyproject expects it
    assert any(
        words[0] == "COPY"
        and words[1] == "--from=assets"
        and words[-1] == "src/ollama_webmgr/web/static/dist"
        for words in instructions
    )
    install = next(w for w in instructions if "requirements.txt" in w and w[0] == "RUN")
    assert "--require-hashes" in install  # the versions of uv.lock, verified
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    cmd = json.loads(text.split("\nCMD ", 1)[1].splitlines()[0])
    assert cmd == _yaml("compose.yaml")["services"]["web"]["command"]


# --- environment file and systemd units --------------------------------------------


def test_environment_file_is_valid_settings() -> None:
    values = {
        k: v
        for k, v in dotenv_values(DEPLOY / "ollama-webmgr.env").items()
        if v is not None
    }
    settings = Settings.from_env(values, env_file=None)
    assert settings.store_url.startswith("postgresql+psycopg://")
    assert concurrency_problem(workers_from_env(values), settings.redis_url) is None


def test_units_name_the_shipped_commands() -> None:
    assert {u.name for u in UNITS} == {
        "ollama-webmgr-web.service",
        "ollama-webmgr-gateway.service",
        "ollama-webmgr-worker@.service",
        "ollama-webmgr-agent.service",
    }
    commands = {}
    for unit in UNITS:
        parser = configparser.ConfigParser(strict=True, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit, encoding="utf-8")
        service = parser["Service"]
        assert service["EnvironmentFile"] == "/etc/ollama-webmgr/env"
        assert service["User"] == "ollama-webmgr"
        commands[unit.name] = shlex.split(service["ExecStart"])
        if unit.name in ("ollama-webmgr-web.service", "ollama-webmgr-gateway.service"):
            # the supervisor says READY=1 once its workers serve, reloads on HUP
            assert service["Type"] == "notify"
            assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
            assert service["RestartPreventExitStatus"] == "2"
    web, gateway = (
        commands["ollama-webmgr-web.service"],
        commands["ollama-webmgr-gateway.service"],
    )
    assert web[1:] == ["serve", "--no-gateway", "--host", "127.0.0.1", "--port", "8000"]
    assert gateway[1:] == ["gateway", "--host", "127.0.0.1", "--port", "11435"]
    assert commands["ollama-webmgr-worker@.service"][1:] == ["worker"]
    assert commands["ollama-webmgr-agent.service"][1] == "agent"
    for command in commands.values():  # options the command line knows
        assert cli.make_context("ollama-webmgr", command[1:], resilient_parsing=True)


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """The units, pointed at this venv and a copy of the environment file."""
    shutil.copy(DEPLOY / "ollama-webmgr.env", tmp_path / "env")
    names = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        text = text.replace("/opt/ollama-webmgr/venv", str(VENV))
        text = text.replace("/etc/ollama-webmgr/env", str(tmp_path / "env"))
        name = unit.name.replace("@.", "@1.")
        (tmp_path / name).write_text(text, encoding="utf-8")
        names.append(f"./{name}")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


# --- Traefik --------------------------------------------------------------------


def test_traefik_routes_stream_unbuffered_to_the_shipped_ports() -> None:
    static = _yaml("traefik/traefik.yml")
    http = _yaml("traefik/dynamic.yml")["http"]
    entry_points = set(static["entryPoints"])
    for name, router in http["routers"].items():
        assert set(router["entryPoints"]) <= entry_points, name
        assert router["service"] in http["services"], name
        assert set(router.get("middlewares", [])) <= set(http["middlewares"]), name
        assert router["tls"]["certResolver"] in static["certificatesResolvers"]
    compress = http["middlewares"]["webmgr-compress"]["compress"]
    assert {"text/event-stream", "application/x-ndjson"} <= set(
        compress["excludedContentTypes"]
    )
    urls = {}
    for name, service in http["services"].items():
        balancer = service["loadBalancer"]
        assert balancer["responseForwarding"]["flushInterval"].startswith("-")
        assert balancer["serversTransport"] in http["serversTransports"]
        urls[name] = [s["url"] for s in balancer["servers"]]
    assert urls == {
        "webmgr-web": ["http://127.0.0.1:8000"],
        "webmgr-gateway": ["http://127.0.0.1:11435"],
    }
    gateway_ep = static["entryPoints"]["gateway"]["transport"]["respondingTimeouts"]
    assert gateway_ep["readTimeout"] == "0s"  # model uploads
    assert (
        static["entryPoints"]["websecure"]["transport"]["respondingTimeouts"][
            "writeTimeout"
        ]
        == "0s"
    )
