"""The ``sim`` command, its option parsing and the state file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ollama_webmgr.commands import cli
from ollama_webmgr.ollama.names import ModelName
from ollama_webmgr.sim.catalog import Registry
from ollama_webmgr.sim.state import SimState


def test_bad_bandwidth_is_a_clear_click_error() -> None:
    result = CliRunner().invoke(cli, ["sim", "--bandwidth", "fast"])
    assert result.exit_code == 2
    assert "débit invalide « fast » (exemples : 500KB, 50MB, 1GB)" in result.output


def test_unknown_model_lists_the_catalogue() -> None:
    result = CliRunner().invoke(cli, ["sim", "--models", "llama3.2,nope:1b"])
    assert result.exit_code == 2
    assert "modèle inconnu de l’émulateur : nope:1b" in result.output
    assert "all-minilm:22m" in result.output


def test_bad_faults_json_is_a_clear_click_error() -> None:
    result = CliRunner().invoke(cli, ["sim", "--faults", '{"nope": 1}'])
    assert result.exit_code == 2
    assert "unknown fault knob 'nope'" in result.output


def test_state_file_keeps_installed_models_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "node.json"
    registry = Registry()
    first = SimState(registry=registry, state_file=path)
    first.install(ModelName.parse("all-minilm"), registry.publish_update("all-minilm"))
    first.copy(first.listed()[0], ModelName.parse("team/minilm:v2"))
    before = {m.name.display: (m.digest, m.modified_at) for m in first.listed()}
    second = SimState(registry=Registry(), state_file=path)
    assert second.load()
    after = {m.name.display: (m.digest, m.modified_at) for m in second.listed()}
    assert after == before
    assert not SimState(state_file=tmp_path / "absent.json").load()


def test_sim_command_serves_under_gevent(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ollama_webmgr",
            "sim",
            "--port",
            "0",
            "--models",
            "all-minilm",
            "--state",
            str(tmp_path / "state.json"),
            "--faults",
            '{"fail_next": 1}',
            "--ollama-version",
            "0.9.0",
            "--max-loaded-models",
            "2",
        ],
        stdout=subprocess.PIPE,
        text=True,
        # a zone seven hours behind UTC; one more CORS origin and scheduler limits,
        # as Ollama reads them
        env={
            **os.environ,
            "TZ": "Etc/GMT+7",
            "OLLAMA_ORIGINS": "https://*.test",
            "OLLAMA_NUM_PARALLEL": "3",
            "OLLAMA_MAX_QUEUE": "9",
        },
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = banner.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/").status_code == 500  # fail_next from --faults
        assert httpx.get(url + "/").text == "Ollama is running"
        assert httpx.get(url + "/api/version").json() == {"version": "0.9.0"}
        limits = httpx.get(url + "/_sim/scheduler").json()
        assert (limits["max_loaded_models"], limits["num_parallel"]) == (2, 3)
        assert limits["max_queue"] == 9
        for origin, status in (("https://ui.test", 200), ("https://ui.example", 403)):
            cors = httpx.get(url + "/api/version", headers={"Origin": origin})
            assert cors.status_code == status
        (model,) = httpx.get(url + "/api/tags").json()["models"]
        assert model["name"] == "all-minilm:latest"
        assert model["modified_at"].endswith("-07:00")  # local zone
        reply = httpx.post(url + "/api/generate", json={"model": "all-minilm"})
        assert reply.json()["error"] == '"all-minilm" does not support generate'
        unload = httpx.post(url + "/api/chat", json={"model": "x", "keep_alive": 0})
        assert unload.json()["error"] == "model 'x' not found"
        loaded = httpx.post(
            url + "/api/embed", json={"model": "all-minilm", "input": "a"}
        )
        assert loaded.status_code == 200
        (runner,) = httpx.get(url + "/api/ps").json()["models"]
        assert runner["expires_at"].endswith("-07:00")
        done = httpx.post(
            url + "/api/generate", json={"model": "all-minilm", "keep_alive": 0}
        )
        assert done.json()["created_at"].endswith("Z")  # created_at stays UTC
        httpx.post(url + "/_sim/faults", json={"drop_after": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(url + "/api/pull", json={"model": "all-minilm"})
    finally:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def test_library_port_serves_the_registry_the_node_pulls_from() -> None:
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "ollama_webmgr", "sim", "--port", "0"),
            *("--models", "all-minilm", "--library-port", "0"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        node = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        site = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert site.startswith("http://127.0.0.1:")
        (model,) = httpx.get(node + "/api/tags").json()["models"]
        manifest = httpx.get(site + "/v2/library/all-minilm/manifests/latest")
        assert hashlib.sha256(manifest.content).hexdigest() == model["digest"]
        page = httpx.get(site + "/search", params={"q": "minilm"})
        assert "x-test-search-response-title" in page.text
    finally:
        process.terminate()
        process.wait(5)
        if process.stdout is not None:
            process.stdout.close()
