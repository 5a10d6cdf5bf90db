"""``/api/blobs/:digest``, create from uploaded GGUF files, and a create's
``system`` as ``show`` and the Modelfile give it back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import ollama
from sim_nodes import Node

from gguf_files import write_gguf


def test_blob_head_and_post_answer_as_ollama(node: Node) -> None:
    data = b"not a model, just bytes"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    other = "sha256:" + "1" * 64
    with node.http() as http:
        bad = http.head("/api/blobs/sha256:abc")
        bad_post = http.post("/api/blobs/md5:" + "0" * 32, content=data)
        missing = http.head(f"/api/blobs/{digest}")
        mismatch = http.post(f"/api/blobs/{other}", content=data)
        stored_anyway = http.head(f"/api/blobs/{digest}")  # kept under its real digest
        again = http.post(f"/api/blobs/{digest}", content=b"never read")
        dashed = http.head(f"/api/blobs/sha256-{digest[7:]}")
        get = http.get(f"/api/blobs/{digest}")
    assert (bad.status_code, bad.content) == (400, b"")
    assert (bad_post.status_code, bad_post.json()) == (
        400,
        {"error": "invalid digest format"},
    )
    assert (missing.status_code, missing.content) == (404, b"")
    assert (mismatch.status_code, mismatch.json()) == (
        400,
        {"error": f'digest mismatch, expected "{other}", got "{digest}"'},
    )
    assert stored_anyway.status_code == 200
    assert (again.status_code, again.content) == (200, b"")
    assert dashed.status_code == 200
    assert get.status_code == 405


def test_create_from_an_uploaded_gguf_file(node: Node, tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "tiny.gguf")
    client = ollama.Client(host=node.url)
    digest = client.create_blob(path)
    with node.http() as http:
        assert (
            http.post(f"/api/blobs/{digest}", content=path.read_bytes()).status_code
            == 200
        )
    progress = [
        p.status
        for p in client.create(
            model="tiny",
            files={"tiny.gguf": digest},
            system="You are tiny.",
            stream=True,
        )
    ]
    assert progress[0] == "parsing GGUF"
    assert progress[1] == f"using existing layer {digest}"
    assert progress[2].startswith("creating new layer sha256:")  # the system prompt
    assert progress[-2:] == ["writing manifest", "success"]
    listed = {m.model: m for m in client.list().models}
    tiny = listed["tiny:latest"]
    assert tiny.details.family == "llama"
    assert tiny.details.parameter_size == "1.10M"
    assert tiny.details.quantization_level == "F16"
    assert tiny.size == path.stat().st_size + len(b"You are tiny.") + _config_size(node)
    shown = client.show("tiny")
    with node.http() as http:  # the official client drops ``system``
        assert http.post("/api/show", json={"model": "tiny"}).json()["system"] == (
            "You are tiny."
        )
    assert f"FROM /root/.ollama/models/blobs/sha256-{digest[7:]}\n" in (
        shown.modelfile or ""
    )
    assert "\nSYSTEM You are tiny.\n" in (shown.modelfile or "")
    assert shown.template == "{{ .Prompt }}"
    assert client.generate("tiny", "hello").response


def _config_size(node: Node) -> int:
    import json

    model = node.state.find("tiny")
    assert model is not None
    return int(json.loads(model.manifest)["config"]["size"])


def test_create_with_system_shows_it_and_writes_the_system_line(node: Node) -> None:
    client = ollama.Client(host=node.url)
    client.create(
        model="pirate",
        from_="llama3.2",
        system="You are a pirate.\nAnswer in one line.",
        parameters={"temperature": 0.7, "stop": ["<|eot_id|>", "ARR"]},
        messages=[{"role": "user", "content": "Ahoy"}],
    )
    shown = client.show("pirate")
    with node.http() as http:  # the official client drops ``system``
        raw = http.post("/api/show", json={"model": "pirate"}).json()
        base = http.post("/api/show", json={"model": "llama3.2"}).json()
        override = http.post(
            "/api/show", json={"model": "pirate", "system": "Be brief."}
        ).json()
    assert raw["system"] == "You are a pirate.\nAnswer in one line."
    modelfile = shown.modelfile or ""
    assert '\nSYSTEM "You are a pirate.\nAnswer in one line."\n' in modelfile
    assert (
        modelfile.index("TEMPLATE")
        < modelfile.index("SYSTEM")
        < modelfile.index("LICENSE")
    )
    assert "\nPARAMETER temperature 0.7\n" in modelfile
    assert "\nPARAMETER stop ARR\n" in modelfile
    assert "\nMESSAGE user Ahoy\n" in modelfile
    parameters = (shown.parameters or "").splitlines()
    assert f"{'temperature':<30} 0.7" in parameters
    assert f'{"stop":<30} "ARR"' in parameters
    assert raw["messages"] == [{"role": "user", "content": "Ahoy"}]
    assert "system" not in base  # the base model is untouched
    assert override["system"] == "Be brief."
    assert "\nSYSTEM Be brief.\n" in override["modelfile"]
