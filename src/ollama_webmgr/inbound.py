"""What both ports check before their app sees a request (``Guard``).

- **Trusted proxies** (``FORWARDED_ALLOW_IPS``, as gunicorn names it): from
  those peers only, ``X-Forwarded-Proto`` sets ``wsgi.url_scheme`` (so the
  session cookie is ``Secure`` behind TLS) and the right-most untrusted
  address of ``X-Forwarded-For`` becomes ``REMOTE_ADDR`` (per-client limits).
- **The Host allow-list** (``HostPolicy``) against DNS rebinding: a page of
  an attacker's domain that resolves to 127.0.0.1 is same-origin for the
  browser, but its requests carry the attacker's name in ``Host``. The
  gateway rewrites ``Host`` for its servers, so Ollama's own loopback guard
  never sees it: it has to be checked here. Refused: 403.
- **Body size**: ``Content-Length`` over the limit is refused (413) before
  a byte of the body is read; a chunked body is read up to the limit, and
  refused as soon as it passes it. Routes that stream their body through
  (the gateway's blob uploads) are exempt: they never hold it.

The answers are each port's own (``Refuser``): Ollama's ``{"error": ...}``
on the gateway, the French page or JSON of the web app.
"""

from __future__ import annotations

import functools
import io
import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

Refuser = Callable[["WSGIEnvironment", "StartResponse", int], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _never(path: str) -> bool:
    return False


def host_name(value: str) -> str:
    """The name of a ``Host`` value: port, brackets and final dot removed.

    >>> [host_name(v) for v in ("LocalHost:8000", "[::1]:11435", "a.example.", "::1")]
    ['localhost', '::1', 'a.example', '::1']
    """
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        value = value.partition(":")[0]
    return value.rstrip(".")


def is_loopback_name(name: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761: never leaves the machine) and
    loopback addresses.

    >>> [is_loopback_name(n) for n in ("localhost", "app.localhost", "127.8.0.1", "::1")]
    [True, True, True, True]
    >>> [is_loopback_name(n) for n in ("localhost.evil.com", "10.0.0.1", "")]
    [False, False, False]
    """
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HostPolicy:
    """Which ``Host`` values a port answers; ``names`` None means any."""

    names: frozenset[str] | None

    @classmethod
    def for_bind(cls, bind: str, configured: Sequence[str] = ()) -> HostPolicy:
        """On a loopback bind: loopback names plus ``configured``. On another
        bind without ``configured`` names, any ``Host``, as Ollama does (the
        port is reachable from the network by any name already); with them,
        those names, the bound address and loopback names. ``*`` allows any.
        """
        names = {host_name(n) for n in configured if n.strip()}
        if "*" in names:
            return cls(None)
        bind_name = host_name(bind)
        if not is_loopback_name(bind_name):
            if not names:
                return cls(None)
            if bind_name not in ("", "0.0.0.0", "::"):
                names.add(bind_name)
        return cls(frozenset(names))

    def allows(self, host: str | None) -> bool:
        """``host`` None: an HTTP/1.0 request without ``Host`` (no browser
        sends one: nothing to rebind)."""
        if self.names is None or host is None:
            return True
        name = host_name(host)
        return is_loopback_name(name) or name in self.names


@dataclass(frozen=True)
class TrustedProxies:
    """Peers whose ``X-Forwarded-Proto`` and ``X-Forwarded-For`` are believed."""

    networks: tuple[Network, ...] = ()
    everyone: bool = False

    @classmethod
    def parse(cls, items: Sequence[str]) -> TrustedProxies:
        """``ValueError`` for an entry that is not an address or a network.

        >>> TrustedProxies.parse(["127.0.0.1", "10.0.0.0/8"]).trusts("10.1.2.3")
        True
        """
        if "*" in items:
            return cls((), everyone=True)
        return cls(tuple(ipaddress.ip_network(i.strip(), strict=False) for i in items))

    def trusts(self, address: str) -> bool:
        if self.everyone:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def apply(
        self, environ: WSGIEnvironment, trusts: Callable[[str], bool] | None = None
    ) -> None:
        """Believe the headers when the peer is trusted (``trusts``: a cached
        ``self.trusts``)."""
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if proto is None and forwarded is None:
            return  # the common case, a direct client: nothing to believe
        if not (trusts or self.trusts)(environ.get("REMOTE_ADDR", "")):
            return
        if proto:
            scheme = proto.rpartition(",")[2].strip().lower()
            if scheme in ("http", "https"):
                environ["wsgi.url_scheme"] = scheme
        if forwarded:
            hops = [h.strip() for h in forwarded.split(",") if h.strip()]
            # right to left: the first hop our proxies did not add is the client
            for hop in reversed(hops):
                environ["REMOTE_ADDR"] = hop
                if not self.trusts(hop):
                    break


class Guard:
    """WSGI middleware: trusted proxy headers, ``Host``, body size (see above)."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        hosts: HostPolicy,
        max_body: int,
        refuse: Refuser,
        proxies: TrustedProxies | None = None,
        streamed: Callable[[str], bool] = _never,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.max_body = max_body
        self.refuse = refuse
        self.proxies = proxies or TrustedProxies()
        self.streamed = streamed
        # clients send the same few values every time: decided once each
        self._host_allowed = functools.lru_cache(maxsize=1024)(hosts.allows)
        self._trusts = functools.lru_cache(maxsize=1024)(self.proxies.trusts)

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.proxies.apply(environ, self._trusts)
        if not self._host_ok(environ):
            return self.refuse(environ, start_response, 403)
        if not self.streamed(environ.get("PATH_INFO", "")):
            length = environ.get("CONTENT_LENGTH")
            if length:
                if int(length) > self.max_body:
                    return self.refuse(environ, start_response, 413)
            elif "HTTP_TRANSFER_ENCODING" in environ and not self._buffer(environ):
                return self.refuse(environ, start_response, 413)
        return self.app(environ, start_response)

    def _host_ok(self, environ: WSGIEnvironment) -> bool:
        if not self._host_allowed(environ.get("HTTP_HOST")):
            return False
        raw = environ.get("RAW_URI", "")
        if raw[:1] in ("/", "*", ""):
            return True
        # absolute form: its authority is the request's host (RFC 9112 §3.2.2)
        authority = raw.partition("://")[2].partition("/")[0].rpartition("@")[2]
        return self._host_allowed(authority)

    def _buffer(self, environ: WSGIEnvironment) -> bool:
        """Read a chunked body whole if it fits; False past the limit."""
        data = environ["wsgi.input"].read(self.max_body + 1)
        if len(data) > self.max_body:
            return False
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        del environ["HTTP_TRANSFER_ENCODING"]
        return True


def raw_path(environ: Any) -> str:
    """The path as the client sent it (``RAW_URI``), query left out.

    >>> raw_path({"RAW_URI": "/api/blobs/a%2Fb?x=1", "PATH_INFO": "/api/blobs/a/b"})
    '/api/blobs/a%2Fb'
    >>> raw_path({"PATH_INFO": "/api/tags"})
    '/api/tags'
    """
    raw = environ.get("RAW_URI")
    if not raw:
        return str(environ.get("PATH_INFO") or "/")
    if raw[:1] != "/":
        raw = split_target_raw(raw)
    return str(raw.partition("?")[0].partition("#")[0])


def split_target_raw(target: str) -> str:
    """The origin form of an absolute-form target, still percent-encoded."""
    rest = target.partition("://")[2]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"
