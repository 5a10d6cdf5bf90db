"""The web app over an emulated fleet, seen through its two faces.

``Site.form`` posts an HTML form as a browser does (CSRF token from the page's
meta tag); ``Site.call`` sends JSON to the API. ``Site.audit`` is the audit
trail as a list of plain entries, to compare what each face recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ollama_webmgr.ollama.client import OllamaClient
from ollama_webmgr.runtime.services import Services

SMALL = "smollm2:135m"
#: who the test client is, as the audit trail names it
TEST_ACTOR = "127.0.0.1"


@dataclass
class Site:
    client: FlaskClient
    services: Services
    _token: str | None = field(default=None, repr=False)

    def form(self, path: str, data: dict[str, str] | None = None) -> TestResponse:
        """What a browser's form post (or its HTMX upgrade) sends."""
        headers = {"X-CSRF-Token": self._csrf(), "HX-Request": "true"}
        return self.client.post(path, data=data or {}, headers=headers)

    def call(self, method: str, path: str, body: Any = None) -> TestResponse:
        """A JSON API call."""
        return self.client.open(path, method=method, json=body)

    def audit(self) -> list[dict[str, Any]]:
        return [  # oldest first
            {key: entry[key] for key in ("who", "action", "target", "details")}
            for entry in self.services.db.find("audit")
        ]

    def _csrf(self) -> str:
        if self._token is None:
            page = BeautifulSoup(self.client.get("/").data, "html.parser")
            meta = page.find("meta", attrs={"name": "csrf-token"})
            assert meta is not None
            self._token = str(meta["content"])
        return self._token


def names(services: Services) -> list[str]:
    return [server.name for server in services.servers.all()]


def loaded(url: str) -> list[str]:
    with OllamaClient(url) as client:
        return [entry.name for entry in client.ps()]


def load(url: str, model: str = SMALL) -> None:
    with OllamaClient(url) as client:
        client.load(model, keep_alive="5m")
