"""The gateway as wired in the product: records, health samples, live settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import ollama
import pytest
from product_support import Product, running_product

from fleet_support import SMALL_MODELS
from ollama_webmgr.ollama.urls import display_address
from ollama_webmgr.store.stats import (
    aggregate_stats,
    get_stats_snapshot,
    health_series,
)

MODEL = SMALL_MODELS[0]


def _served_by(product: Product, count: int = 4) -> list[str]:
    servers = []
    for _ in range(count):
        answer = httpx.post(
            product.gateway_url + "/api/generate",
            json={"model": MODEL, "prompt": "hi", "stream": False},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        servers.append(answer.headers["X-Ollama-Server"])
    return servers


def _load_everywhere(product: Product) -> None:
    """Load the model on every node: the gateway prefers servers where it is
    loaded, so the strategy decides between servers that all have it loaded."""
    for url in product.fleet.urls:
        httpx.post(
            url + "/api/generate", json={"model": MODEL, "prompt": "", "stream": False}
        ).raise_for_status()
    product.services.gateway.monitor.check_all()


def test_gateway_requests_land_in_the_request_statistics(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS], tmp_path) as product:
        with ollama.Client(host=product.gateway_url) as client:
            client.chat(MODEL, messages=[{"role": "user", "content": "a"}])
            client.chat(MODEL, messages=[{"role": "user", "content": "b"}])
            client.generate(MODEL, "hi")
            client.embed(SMALL_MODELS[1], "text")
            client.list()
            with pytest.raises(ollama.ResponseError):
                client.generate("no-such-model", "hi")
        product.services.stop()  # flushes the batch recorder
        db = product.services.db
        snapshot = get_stats_snapshot(db)
        address = display_address(product.fleet.urls[0])
        latencies = health_series(db, address, "request_latency", "1h")
        # one hour bucket holds them all: the stored hourly document has them too
        stored = aggregate_stats(db, "hourly", now=time.time() + 3600)
    assert snapshot["chat_requests"] == 2
    assert snapshot["generate_requests"] == 2
    assert snapshot["embedding_requests"] == 1
    assert snapshot["other_requests"] == 1
    assert snapshot["error_requests"] == 1
    # the emulator's final lines count tokens: 3 generations and their prompts
    assert snapshot["completion_tokens"] > 3
    assert snapshot["prompt_tokens"] > 3
    assert snapshot["bytes_in"] > 6 * len('{"model":""}')
    assert snapshot["bytes_out"] > snapshot["bytes_in"]
    assert sum(point.count for point in latencies) == 4
    if stored["total_requests"] == snapshot["total_requests"]:  # same hour
        assert stored["error_requests"] == 1
        assert stored["bytes_out"] == snapshot["bytes_out"]


def test_every_health_check_is_persisted(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS, SMALL_MODELS], tmp_path) as product:
        db = product.services.db
        url = display_address(product.fleet.urls[0])
        before = sum(p.count for p in health_series(db, url, "health", "1h"))
        product.services.gateway.monitor.check_all()
        after = health_series(db, url, "health", "1h")
        docs = {d["address"]: d for d in db.find("servers")}
        history = product.web.get(
            "/api/v1/servers/history",
            query_string={"server": product.names()[0], "period": "1h"},
        )
    assert before == 1  # the start-up round
    assert sum(p.count for p in after) == 2
    assert all(p.min == 1.0 for p in after)
    assert {docs[display_address(u)]["healthy"] for u in product.fleet.urls} == {True}
    assert history.status_code == 200
    assert history.json["address"] == url
    assert sum(p["count"] for p in history.json["points"]) == 2


def test_a_strategy_change_applies_to_the_next_requests(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS, SMALL_MODELS], tmp_path) as product:
        light, heavy = product.names()
        _load_everywhere(product)
        product.services.servers.update(heavy, weight=5)
        put = product.web.put("/api/gateway/config", json={"strategy": "weighted"})
        assert put.status_code == 200, put.json
        assert set(_served_by(product)) == {heavy}
        product.web.put("/api/gateway/config", json={"strategy": "round_robin"})
        assert set(_served_by(product)) == {light, heavy}
        stored = {d["key"]: d["value"] for d in product.services.db.find("config")}
    assert stored["gateway"]["strategy"] == "round_robin"


def test_cors_origins_set_through_the_api_apply_at_once(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS[:1]], tmp_path) as product:
        origin = {"Origin": "https://chat.example.com"}
        before = httpx.get(product.gateway_url + "/api/version", headers=origin)
        put = product.web.put(
            "/api/gateway/config", json={"origins": ["https://*.example.com"]}
        )
        after = httpx.get(product.gateway_url + "/api/version", headers=origin)
        shown = product.web.get("/api/gateway/config").json["config"]["origins"]
    assert before.status_code == 403
    assert put.status_code == 200, put.json
    assert after.status_code == 200
    assert after.headers["access-control-allow-origin"] == origin["Origin"]
    assert shown == ["https://*.example.com"]


def test_a_lower_limit_makes_the_gateway_refuse_extra_requests(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS], tmp_path, token_delay=0.05) as product:
        put = product.web.put(
            "/api/gateway/config", json={"default_limit": 1, "queue_size": 0}
        )
        assert put.status_code == 200
        started, release = threading.Event(), threading.Event()

        def long_stream() -> None:
            with httpx.stream(
                "POST",
                product.gateway_url + "/api/generate",
                json={"model": MODEL, "prompt": "tell me a story"},
                timeout=10,
            ) as answer:
                for _line in answer.iter_lines():
                    started.set()
                    if release.is_set():
                        break

        worker = threading.Thread(target=long_stream)
        worker.start()
        try:
            assert started.wait(5)
            refused = httpx.post(
                product.gateway_url + "/api/generate",
                json={"model": MODEL, "prompt": "hi", "stream": False},
                timeout=10,
            )
        finally:
            release.set()
            worker.join(10)
    assert refused.status_code == 429
    assert refused.json() == {"error": "all Ollama servers are busy, please try again"}


def test_api_keys_protect_the_gateway_with_ollama_s_401(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS], tmp_path) as product:
        created = product.web.post("/api/gateway/keys", json={"label": "laptop"})
        assert created.status_code == 201
        key = created.json["key"]
        with (
            ollama.Client(
                host=product.gateway_url, headers={"Authorization": "Bearer bad"}
            ) as wrong,
            pytest.raises(ollama.ResponseError) as refused,
        ):
            wrong.list()
        with ollama.Client(
            host=product.gateway_url, headers={"Authorization": f"Bearer {key}"}
        ) as right:
            assert [m.model for m in right.list().models] == sorted(SMALL_MODELS)
        listed = product.web.get("/api/gateway/keys").json
        deleted = product.web.delete(f"/api/gateway/keys/{created.json['id']}")
        open_again = httpx.get(product.gateway_url + "/api/tags")
        missing = product.web.delete("/api/gateway/keys/nope")
    assert refused.value.status_code == 401
    assert refused.value.error == "unauthorized: invalid or missing API key"
    assert listed["enabled"] is True
    assert listed["keys"] == [
        {
            "id": created.json["id"],
            "label": "laptop",
            "prefix": key[:8],
            "created_at": created.json["created_at"],
        }
    ]
    assert key not in str(product.services.db.find("config"))
    assert deleted.status_code == 204
    assert open_again.status_code == 200
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "Clé inconnue : « nope »."


def test_a_drained_server_gets_no_new_request(tmp_path: Path) -> None:
    with running_product([SMALL_MODELS, SMALL_MODELS], tmp_path) as product:
        first, second = product.names()
        _load_everywhere(product)
        drained = product.web.post(
            "/api/gateway/drain", json={"server": first, "draining": True}
        )
        served = _served_by(product)
        status = product.web.get("/api/gateway/status").json["servers"]
        product.web.post(
            "/api/gateway/drain", json={"server": first, "draining": False}
        )
        served_after = _served_by(product, 6)
        audit = product.services.db.find("audit")
    assert drained.json == {"server": first, "draining": True}
    assert set(served) == {second}
    assert [s["draining"] for s in status] == [True, False]
    assert first in served_after
    assert [a["action"] for a in audit] == ["gateway.drain", "gateway.drain"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/api/gateway/config",
            {"strategy": "random"},
            400,
            "Valeur invalide pour « strategy » : least_in_flight, round_robin,"
            " weighted ou latency attendu.",
        ),
        (
            "/api/gateway/config",
            {"max_attempts": 0},
            400,
            "Valeur invalide pour « max_attempts » : un entier supérieur ou égal"
            " à 1 attendu.",
        ),
        (
            "/api/gateway/config",
            {"read_timeout": -1},
            400,
            "Valeur invalide pour « read_timeout » : un nombre de secondes positif"
            " attendu.",
        ),
        (
            "/api/gateway/config",
            {"origins": ["chat.example.com"]},
            400,
            "Valeur invalide pour « origins » : des origines schéma://hôte séparées"
            " par des virgules (une * au plus) attendues.",
        ),
        ("/api/gateway/config", {}, 400, "Aucun réglage à modifier."),
        (
            "/api/gateway/config",
            [1],
            400,
            "Corps de requête invalide : un objet JSON est attendu.",
        ),
        (
            "/api/gateway/drain",
            {"server": "nope", "draining": True},
            404,
            "Serveur inconnu : « nope ».",
        ),
        (
            "/api/gateway/drain",
            {"server": "x", "draining": "yes"},
            400,
            "« draining » attendu : true (vider) ou false (remettre en service).",
        ),
        (
            "/api/gateway/keys",
            {"label": ""},
            400,
            "« label » attendu : un nom de 1 à 64 caractères.",
        ),
    ],
)
def test_bad_gateway_admin_requests_get_a_french_message(
    tmp_path: Path, path: str, body: object, status: int, message: str
) -> None:
    with running_product([SMALL_MODELS[:1]], tmp_path) as product:
        method = product.web.put if path.endswith("config") else product.web.post
        answer = method(path, json=body)
        config = product.web.get("/api/gateway/config").json["config"]
    assert answer.status_code == status
    assert answer.json["error"]["message"] == message
    assert config["strategy"] == "least_in_flight"
    assert config["max_attempts"] == 3
