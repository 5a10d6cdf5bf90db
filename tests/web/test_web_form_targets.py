"""Every form, htmx request and link a page renders leads to a route of the app
with the right method: the class of « the form's action is <built-in method copy
of dict object> » (a Jinja dict's method shadowing a key) caught on every page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask
from web_support import parse
from werkzeug.exceptions import MethodNotAllowed, NotFound

from fleet_support import FAST, fleet_services
from ollama_webmgr.runtime.webapp import create_app
from ollama_webmgr.sim.fleet import EmulatedFleet, running_fleet
from ollama_webmgr.usecases import model_jobs
from ollama_webmgr.usecases.actor import Actor

PAGES = (
    "/",
    "/models",
    "/models?server=all",
    "/models/smollm2:135m",
    "/running",
    "/search?q=smollm2",
    "/search/variants?model=smollm2",
    "/servers",
    "/passerelle",
    "/sante",
    "/statistiques",
    "/materiel",
    "/offline",
)
#: (attribute, method) of everything that leads somewhere
TARGETS = (
    ("form[method=post]", "action", "POST"),
    ("[hx-post]", "hx-post", "POST"),
    ("[hx-get]", "hx-get", "GET"),
    ("a[href^='/']", "href", "GET"),
)


@pytest.fixture
def fleet() -> Iterator[EmulatedFleet]:
    with running_fleet(
        [("smollm2:135m", "all-minilm:latest")], bandwidth=FAST
    ) as running:
        yield running


@pytest.fixture
def app(fleet: EmulatedFleet, tmp_path: Path) -> Iterator[Flask]:
    with fleet_services(fleet, tmp_path) as services:
        model_jobs.submit_pull(
            services, Actor("test"), None, "absent:1b"
        )  # a failed job's forms
        yield create_app(services=services)


def test_every_form_and_link_of_every_page_reaches_a_route(app: Flask) -> None:
    client = app.test_client()
    adapter = app.url_map.bind("localhost")
    broken = []
    for page in PAGES:
        answer = client.get(page)
        assert answer.status_code == 200, page
        doc = parse(answer.data)
        for selector, attribute, method in TARGETS:
            for element in doc.select(selector):
                target = str(element[attribute])
                path = urlsplit(target).path
                try:
                    adapter.match(path, method=method)
                except (NotFound, MethodNotAllowed):
                    broken.append(f"{page}: {method} {target!r} ({element.name})")
    assert broken == []


def test_the_check_would_have_caught_the_shadowed_copy_url(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    with pytest.raises(NotFound):
        adapter.match("<built-in method copy of dict object at 0x7f>", method="POST")
