"""ADMIN_PASSWORD guesses limited per client and overall; the session cookie
``Secure`` over TLS; ``/health`` terse without the password, probes cached."""

from __future__ import annotations

import base64

from web_support import make_app

from ollama_webmgr.edge.attempts import GLOBAL, PER_CLIENT, AttemptLimiter
from ollama_webmgr.web.health import ProbeCache


def _basic(password: str) -> dict[str, str]:
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _from(address: str) -> dict[str, str]:
    return {"REMOTE_ADDR": address}


def test_guessing_is_stopped_per_client_with_a_french_429() -> None:
    client = make_app(admin_password="s3cret").test_client()
    for _ in range(PER_CLIENT):
        wrong = client.get(
            "/api/jobs", headers=_basic("nope"), environ_base=_from("203.0.113.5")
        )
        assert wrong.status_code == 401
    refused = client.get(
        "/api/jobs", headers=_basic("guess"), environ_base=_from("203.0.113.5")
    )
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.json["error"]["code"] == "too_many_attempts"
    assert refused.json["error"]["message"].startswith(
        "Trop de tentatives de connexion"
    )
    # the right password is not even compared for that client...
    right = client.get(
        "/api/jobs", headers=_basic("s3cret"), environ_base=_from("203.0.113.5")
    )
    assert right.status_code == 429
    # ...while another client is served, and a page answers in French too
    other = client.get(
        "/api/jobs", headers=_basic("s3cret"), environ_base=_from("198.51.100.7")
    )
    assert other.status_code == 200
    page = client.get("/", headers=_basic("x"), environ_base=_from("203.0.113.5"))
    assert page.status_code == 429
    assert "Trop de tentatives" in page.get_data(as_text=True)
    # requests without credentials are not guesses: still the 401 challenge,
    # which shows nothing of the app (no server in a menu) before the password
    challenge = client.get("/", environ_base=_from("203.0.113.5"))
    assert challenge.status_code == 401
    assert "gpu-a" not in challenge.get_data(as_text=True)
    assert "Set-Cookie" not in challenge.headers


def test_guesses_spread_over_many_addresses_hit_the_overall_limit() -> None:
    limiter = AttemptLimiter()
    for n in range(GLOBAL):
        assert limiter.retry_after(f"10.0.{n // 250}.{n % 250}") == 0
        limiter.failed(f"10.0.{n // 250}.{n % 250}")
    assert limiter.retry_after("192.0.2.1") > 0  # a fresh address too


def test_the_limit_slides_with_time() -> None:
    now = [1000.0]
    limiter = AttemptLimiter(window=60, per_client=2, overall=100, clock=lambda: now[0])
    limiter.failed("a")
    now[0] += 30
    limiter.failed("a")
    assert limiter.retry_after("a") == 30  # the first failure leaves the window
    now[0] += 30
    assert limiter.retry_after("a") == 0


def test_the_session_cookie_is_secure_over_tls_only() -> None:
    client = make_app().test_client()
    plain = client.get("/")
    tls = make_app().test_client().get("/", base_url="https://localhost")
    assert "Secure" not in plain.headers["Set-Cookie"]
    assert "; Secure" in tls.headers["Set-Cookie"]


def test_health_says_only_its_status_without_the_password() -> None:
    client = make_app(admin_password="s3cret").test_client()
    terse = client.get("/health")
    assert set(terse.json) == {"status"}
    assert "gpu-a" not in terse.get_data(as_text=True)
    full = client.get("/health", headers=_basic("s3cret"))
    assert {"status", "checks", "agents", "pid"} <= set(full.json)
    assert [c["url"] for c in full.json["checks"]["ollama"]][:1] == [
        "http://localhost:11434"
    ]
    # without a password set, everything is open: details for all
    assert "checks" in make_app().test_client().get("/health").json


def test_probes_are_made_once_per_period_and_per_fleet() -> None:
    calls = []
    cache = ProbeCache(ttl=60)

    def probe() -> list[dict[str, object]]:
        calls.append(1)
        return [{"server": "a", "ok": True}]

    for _ in range(20):
        assert cache.get(("a",), probe) == [{"server": "a", "ok": True}]
    assert len(calls) == 1
    cache.get(("a", "b"), probe)  # the fleet changed: probed again
    assert len(calls) == 2
