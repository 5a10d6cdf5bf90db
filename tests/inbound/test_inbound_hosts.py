"""The Host allow-list and the Host rules of RFC 9112 §3.2, on both ports of
a loopback-bound ``serve`` (``ALLOWED_HOSTS=webmgr.test``)."""

from __future__ import annotations

import json

import pytest
from inbound_support import Served, exchange

from ollama_webmgr.inbound import HostPolicy, TrustedProxies

PATHS = {"web": "/health", "gateway": "/"}


def _get(host: bytes | None, path: str = "/", version: bytes = b"1.1") -> bytes:
    line = b"GET %s HTTP/%s\r\n" % (path.encode(), version)
    head = b"" if host is None else b"Host: " + host + b"\r\n"
    return line + head + b"Connection: close\r\n\r\n"


@pytest.mark.parametrize(
    "host",
    [
        b"localhost",
        b"LocalHost:8000",
        b"127.0.0.1",
        b"127.8.9.10:1234",
        b"[::1]:11435",
        b"app.localhost",
        b"webmgr.test",
        b"webmgr.test.",
    ],
)
@pytest.mark.parametrize("side", ["web", "gateway"])
def test_loopback_names_and_configured_ones_are_served(
    served: Served, side: str, host: bytes
) -> None:
    answers, _ = exchange(getattr(served, side), _get(host, PATHS[side]))
    assert [a.status for a in answers] == [200]


@pytest.mark.parametrize(
    "host",
    [
        b"evil.example",
        b"localhost.evil.example",
        b"webmgr.test.evil.example",
        b"192.168.1.20",
        b"10.0.0.1:11435",
        b"0.0.0.0",
        b"[2001:db8::1]",
    ],
)
def test_other_names_are_refused_in_each_ports_shape(
    served: Served, host: bytes
) -> None:
    # the gateway: Ollama's shape, and OpenAI's under /v1/
    for path, expected in (
        ("/api/tags", {"error": "forbidden: this Host is not allowed (ALLOWED_HOSTS)"}),
        ("/v1/models", None),
    ):
        answers, _closed = exchange(served.gateway, _get(host, path))
        assert [a.status for a in answers] == [403]
        body = json.loads(answers[0].body)
        if expected is not None:
            assert body == expected
        else:
            assert "ALLOWED_HOSTS" in body["error"]["message"]
    # the web app: JSON under /api/, the French page elsewhere
    answers, _ = exchange(served.web, _get(host, "/api/servers"))
    assert [a.status for a in answers] == [403]
    assert json.loads(answers[0].body)["error"]["code"] == "forbidden_host"
    answers, _ = exchange(served.web, _get(host, "/"))
    assert [a.status for a in answers] == [403]
    assert answers[0].headers["content-type"].startswith("text/html")
    page = answers[0].body.decode()
    assert "Nom d’hôte non autorisé" in page
    # a rebinding page reads this answer as its own: nothing of the app in it
    assert "set-cookie" not in answers[0].headers
    assert "Serveur" not in page
    assert "127.0.0.1" not in page


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (_get(None), 400),  # HTTP/1.1 without Host
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nhost: evil.example\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: local host\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: user@localhost\r\n\r\n", 400),
        (b"GET http://evil.example/ HTTP/1.1\r\nHost: localhost\r\n\r\n", 403),
    ],
)
def test_missing_repeated_or_invalid_host(port: int, data: bytes, status: int) -> None:
    answers, closed = exchange(port, data)
    assert [a.status for a in answers] == [status]
    assert closed


@pytest.mark.parametrize("side", ["web", "gateway"])
def test_http10_needs_no_host(served: Served, side: str) -> None:
    # RFC 9112 asks Host of HTTP/1.1 only; no browser sends 1.0: nothing to rebind
    data = _get(None, PATHS[side], version=b"1.0")
    answers, _ = exchange(getattr(served, side), data)
    assert [a.status for a in answers] == [200]


def test_host_policy_follows_the_bind() -> None:
    loopback = HostPolicy.for_bind("127.0.0.1", ["gpu-box.lan"])
    assert loopback.allows("localhost:11435")
    assert loopback.allows("GPU-BOX.LAN:8000")
    assert not loopback.allows("192.168.1.20")
    # a non-loopback bind without names: any Host, as Ollama does
    assert HostPolicy.for_bind("0.0.0.0").allows("anything.example")
    # ... with names: those, the bound address, and loopback names
    named = HostPolicy.for_bind("192.168.1.20", ["webmgr.lan"])
    assert named.allows("webmgr.lan")
    assert named.allows("192.168.1.20:8000")
    assert named.allows("localhost")
    assert not named.allows("evil.example")
    assert HostPolicy.for_bind("127.0.0.1", ["*"]).allows("evil.example")


def test_forwarded_headers_are_believed_from_trusted_proxies_only() -> None:
    proxies = TrustedProxies.parse(["127.0.0.1", "10.0.0.0/8"])
    environ = {
        "REMOTE_ADDR": "10.1.1.1",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9, 10.2.2.2",
        "wsgi.url_scheme": "http",
    }
    proxies.apply(environ)
    # the right-most hop not added by a trusted proxy is the client
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"]) == (
        "203.0.113.9",
        "https",
    )
    untrusted = {**environ, "REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "http"}
    proxies.apply(untrusted)
    assert (untrusted["REMOTE_ADDR"], untrusted["wsgi.url_scheme"]) == (
        "203.0.113.9",
        "http",
    )


def test_the_session_cookie_is_secure_behind_a_tls_proxy(served: Served) -> None:
    page = b"GET / HTTP/1.1\r\nHost: webmgr.test\r\nConnection: close\r\n"
    plain, _ = exchange(served.web, page + b"\r\n")
    behind_tls, _ = exchange(served.web, page + b"X-Forwarded-Proto: https\r\n\r\n")
    assert plain[0].status == behind_tls[0].status == 200
    assert "Secure" not in plain[0].headers["set-cookie"]
    assert "; Secure" in behind_tls[0].headers["set-cookie"]
