"""Validation and normal form of Ollama base URLs typed by users.

The rules follow how Ollama itself reads ``OLLAMA_HOST``: no scheme means
``http`` on port 11434; an explicit ``http://`` without a port means port 80 and
``https://`` means 443. The normal form always carries the scheme and the port.

>>> normalize_base_url("192.168.1.20")
'http://192.168.1.20:11434'
>>> normalize_base_url("gpu-box:11434")
'http://gpu-box:11434'
>>> normalize_base_url("  https://ollama.example.org/ ")
'https://ollama.example.org:443'
>>> normalize_base_url("http://LocalHost")
'http://localhost:80'
>>> normalize_base_url("[::1]:11434")
'http://[::1]:11434'
>>> normalize_base_url("ftp://host")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidServerUrl: unsupported scheme 'ftp' (expected http or https)
>>> normalize_base_url("http://user:pw@host:11434")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidServerUrl: credentials are not allowed in a server URL
>>> normalize_base_url("http://host:11434/api")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidServerUrl: a server URL has no path (got '/api')
>>> normalize_base_url("host:99999")
Traceback (most recent call last):
...
ollama_webmgr.errors.InvalidServerUrl: port must be between 1 and 65535
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ollama_webmgr.errors import InvalidServerUrl

DEFAULT_PORT = 11434
_SCHEME_PORTS = {"http": 80, "https": 443}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)


def normalize_base_url(raw: str) -> str:
    """Return ``scheme://host:port`` for what a user typed, or raise InvalidServerUrl."""
    text = raw.strip().strip("'\"").strip()
    if not text:
        raise InvalidServerUrl("the server URL is empty")
    has_scheme = "://" in text
    parts = urlsplit(text if has_scheme else f"http://{text}")
    scheme = parts.scheme.lower()
    if scheme not in _SCHEME_PORTS:
        raise InvalidServerUrl(
            f"unsupported scheme '{scheme}' (expected http or https)"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidServerUrl("credentials are not allowed in a server URL")
    if parts.path not in ("", "/"):
        raise InvalidServerUrl(f"a server URL has no path (got '{parts.path}')")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidServerUrl("a server URL has no query string or fragment")
    try:
        port = parts.port
    except ValueError:
        raise InvalidServerUrl("port must be between 1 and 65535") from None
    if port == 0:
        raise InvalidServerUrl("port must be between 1 and 65535")
    host = _checked_host(parts.hostname or "")
    if port is None:
        port = _SCHEME_PORTS[scheme] if has_scheme else DEFAULT_PORT
    return f"{scheme}://{host}:{port}"


def _checked_host(host: str) -> str:
    if not host:
        raise InvalidServerUrl("the server URL has no host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOSTNAME.match(host):
            raise InvalidServerUrl(f"invalid host name '{host}'") from None
        return host.rstrip(".")
    return f"[{address.compressed}]" if address.version == 6 else address.compressed


def display_address(base_url: str) -> str:
    """Short ``host:port`` form used as a server's address in the store and the UI.

    >>> display_address("http://10.0.0.5:11434")
    '10.0.0.5:11434'
    """
    return base_url.split("://", 1)[1]
